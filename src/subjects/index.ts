/** The subjects folder's face to the rest of the package: what other folders may import. */
export { SubjectsController } from './subjects.controller';
export { SubjectsModule } from './subjects.module';
