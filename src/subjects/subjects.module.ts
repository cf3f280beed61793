import { Module } from '@nestjs/common';
import { SubjectsController } from 'src/subjects/subjects.controller';
import { SubjectsService } from 'src/subjects/subjects.service';

/** Data subjects (GDPR): erasure by crypto-shredding. */
@Module({
  controllers: [SubjectsController],
  providers: [SubjectsService],
})
export class SubjectsModule {}
