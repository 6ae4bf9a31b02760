import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import type { OrderState } from '../../../common/src/contracts';

const STATES: OrderState[] = ['received', 'rejected', 'accepted', 'paid', 'payment_failed'];

/** GET /orders?state=paid&offset=0&limit=50 */
export class ListOrdersQuery {
  @IsOptional()
  @IsIn(STATES)
  state?: OrderState;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  offset?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}
