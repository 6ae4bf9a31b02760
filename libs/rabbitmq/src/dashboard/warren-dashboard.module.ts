import { Controller, Module, UseFilters, UseGuards, type DynamicModule, type ModuleMetadata } from '@nestjs/common';
import { DashboardControllerBase } from './dashboard.controller';
import { DashboardExceptionFilter } from './dashboard-exception.filter';
import { resolveDashboardOptions, type WarrenDashboardOptions } from './dashboard-options';
import { DASHBOARD_OPTIONS, DashboardService } from './dashboard.service';

export interface WarrenDashboardModuleOptions extends WarrenDashboardOptions {
  /** Modules the guard's own dependencies come from, when `authGuard` is a class that injects something. */
  imports?: ModuleMetadata['imports'];
}

/**
 * Warren's dashboard: handlers, queues, dead letters (with replay and purge) and connections, as
 * server-rendered pages and a JSON API in the host Nest app. Nothing is served unless this module is
 * imported; every route is behind `authGuard` when one is given. Needs RabbitMQModule in the same app.
 *
 * ```ts
 * WarrenDashboardModule.forRoot({ path: '/warren', authGuard: AdminGuard, maskPaths: ['card.number'] })
 * ```
 */
@Module({})
export class WarrenDashboardModule {
  static forRoot(options: WarrenDashboardModuleOptions = {}): DynamicModule {
    const { imports, ...dashboardOptions } = options;
    const resolved = resolveDashboardOptions(dashboardOptions);

    // One controller class per mount, so two dashboards (two paths, two guards) can live in one app.
    class WarrenDashboardController extends DashboardControllerBase {}
    Controller(resolved.path)(WarrenDashboardController);
    if (resolved.authGuard) UseGuards(resolved.authGuard)(WarrenDashboardController);
    UseFilters(DashboardExceptionFilter)(WarrenDashboardController);

    return {
      module: WarrenDashboardModule,
      imports: imports ?? [],
      controllers: [WarrenDashboardController],
      providers: [{ provide: DASHBOARD_OPTIONS, useValue: resolved }, DashboardService],
    };
  }
}
