import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsBoolean, IsIn, IsInt, IsOptional, IsString, Length, Matches, Max, Min, ValidateNested } from 'class-validator';

export class OrderItemDto {
  @IsString()
  @Matches(/^[a-z0-9-]{1,40}$/, { message: 'sku must be 1-40 lowercase letters, digits or dashes' })
  sku!: string;

  @IsInt()
  @Min(1)
  @Max(100)
  quantity!: number;
}

/** The simple card choices; `cardToken` gives the full range the gateway simulator understands. */
export const CARD_CHOICES = ['ok', 'flaky', 'declined'] as const;
export type CardChoice = (typeof CARD_CHOICES)[number];

/** POST /orders */
export class CreateOrderDto {
  @IsString()
  @Length(1, 64)
  @Matches(/^[\w.@-]+$/, { message: 'customerId may hold letters, digits and . _ @ -' })
  customerId!: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(20)
  @ValidateNested({ each: true })
  @Type(() => OrderItemDto)
  items!: OrderItemDto[];

  /** How the simulated card behaves. @default 'ok' */
  @IsOptional()
  @IsIn(CARD_CHOICES)
  card?: CardChoice;

  /** A gateway token (tok_ok, tok_flaky_3, tok_down, tok_declined, ...); wins over `card`. */
  @IsOptional()
  @Matches(/^tok_[a-z0-9_]{1,40}$/, { message: 'cardToken must look like tok_ok, tok_flaky_3, tok_declined, ...' })
  cardToken?: string;

  /** Ship first (priority queue). @default false */
  @IsOptional()
  @IsBoolean()
  express?: boolean;

  /**
   * The client's id for this order, its idempotency key: POSTing again with the same
   * id returns the same order and publishes nothing new. May instead come as the
   * `Idempotency-Key` header.
   */
  @IsOptional()
  @IsString()
  @Length(1, 100)
  @Matches(/^[\w.:-]+$/, { message: 'clientOrderId may hold letters, digits and . _ : -' })
  clientOrderId?: string;
}

/** PATCH /orders/:id/payment-method: the customer fixes their card after a decline. */
export class UpdatePaymentMethodDto {
  @IsOptional()
  @IsIn(CARD_CHOICES)
  card?: CardChoice;

  @IsOptional()
  @Matches(/^tok_[a-z0-9_]{1,40}$/, { message: 'cardToken must look like tok_ok, tok_flaky_3, tok_declined, ...' })
  cardToken?: string;
}

/** The token the gateway simulator gets for a choice. */
export function cardTokenOf(input: { card?: CardChoice; cardToken?: string }): string {
  return input.cardToken ?? `tok_${input.card ?? 'ok'}`;
}
