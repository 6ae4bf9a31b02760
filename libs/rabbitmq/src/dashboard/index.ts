export { WarrenDashboardModule } from './warren-dashboard.module';
export type { WarrenDashboardModuleOptions } from './warren-dashboard.module';
export type { WarrenDashboardOptions } from './dashboard-options';
export { DashboardTelemetry } from './dashboard.telemetry';
export type { HandlerTimings } from './dashboard.telemetry';
export { DashboardService } from './dashboard.service';
export type {
  ConnectionRow,
  DashboardReplayResult,
  DeadLetterQueueRow,
  HandlerRow,
  OutboxHeldPage,
  OutboxHeldRow,
  QueueRow,
  WaitingMessage,
} from './dashboard.service';
export type { DashboardOutboxOption, DashboardOutboxRow, DashboardOutboxSource } from './dashboard-outbox';
export type { DeadLetterFilter, DeadLetterPage, DeadLetterSummary } from './dead-letter-browser';
export type { PayloadPreview } from './payload-preview';
