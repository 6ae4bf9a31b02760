import { ArrayMaxSize, IsArray, IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { Type } from 'class-transformer';

/** POST /admin/dead-letters/:queue/replay */
export class ReplayDeadLettersDto {
  /** Replay at most this many. @default all */
  @IsOptional()
  @IsInt()
  @Min(1)
  limit?: number;

  /** Replay only the dead letters of these orders (`payload.orderId`). @default every one */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(10_000)
  @IsString({ each: true })
  orderIds?: string[];
}

/** GET /admin/dead-letters/:queue?limit=20 */
export class PeekDeadLettersQuery {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

/** POST /admin/broadcast */
export class BroadcastDto {
  @IsString()
  @Length(1, 500)
  message!: string;
}
