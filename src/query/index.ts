/** The query folder's face to the rest of the package: what other folders may import. */
export { ActorsController } from './actors.controller';
export { AsOfController } from './as-of.controller';
export { EventsController } from './events.controller';
export { ExportController } from './export.controller';
export { RequestsController, TransactionsController } from './grouping.controller';
export { QueryModule } from './query.module';
export { ResourcesController } from './resources.controller';
export { StatsRefreshJob } from './stats-refresh.job';
export { StatsController } from './stats.controller';
export { EVENT_ROW_COLUMNS } from './event-row';
export type { EventRow } from './event-row';
export { toEventView } from './event.view';
export type { EventView } from './event.view';
