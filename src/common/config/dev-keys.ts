import { createHash } from 'node:crypto';

/** Development checkpoint key (a public, fixed seed): signatures made with it prove nothing. */
export const DEV_SIGNING_KEY = createHash('sha256')
  .update('nest-audit-trail development signing key')
  .digest('base64');

/** Development key-encryption key for personal data (public, fixed): protects nothing. */
export const DEV_PERSONAL_DATA_KEY = createHash('sha256')
  .update('nest-audit-trail development personal-data key')
  .digest('base64');
