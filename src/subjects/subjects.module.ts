import { Module } from '@nestjs/common';
import { SubjectsRepository } from './subjects.repository';
import { SubjectsService } from './subjects.service';

/** Data subjects (GDPR): erasure by crypto-shredding. */
@Module({
  providers: [SubjectsService, SubjectsRepository],
  exports: [SubjectsService],
})
export class SubjectsModule {}
