// Importing each type file registers it on the builder.
import { builder } from '../builder.js';
import './scalars.js';
import './policy.js';
import './item.js';
import './inventory.js';
import './price.js';
import './fulfillment.js';
import './event.js';
import './velocity.js';
import './candidate.js';
import './user.js';
import './session.js';
import './decision.js';
import './decision-log.js';
import './subscriptions.js';

export const schema = builder.toSchema({ sortSchema: false });
