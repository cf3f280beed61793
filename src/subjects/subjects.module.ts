import { Module } from '@nestjs/common';
import { SubjectsService } from './subjects.service';

/** Data subjects (GDPR): erasure by crypto-shredding. */
@Module({
  providers: [SubjectsService],
  exports: [SubjectsService],
})
export class SubjectsModule {}
