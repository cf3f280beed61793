export { IsBoundedInt } from './bounded-int';
export { IsIsoTimestamp, MAX_TIMESTAMP, MIN_TIMESTAMP, parseIsoTimestamp } from './iso-timestamp';
export { IsSafeText, isSafeText } from './safe-text';
