/** The viewer folder's face: the page, its assets and the identity endpoint it starts from. */
export { ViewerController } from './viewer.controller';
export { MeController } from './me.controller';
