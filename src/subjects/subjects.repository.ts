import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

@Injectable()
export class SubjectsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Whether the organization has any event (hot or warm): one index probe. */
  async organizationHasEvents(organizationId: string): Promise<boolean> {
    const [row] = await this.dataSource.query(
      `SELECT EXISTS (SELECT 1 FROM audit_events_all WHERE organization_id = $1) AS found`,
      [organizationId],
    );
    return row.found === true;
  }
}
