import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsInt, IsString, Length, Max, Min, ValidateNested } from 'class-validator';
import type { OrderItem, ReserveRequest } from '../../common/src/contracts';

class ReserveLineDto implements OrderItem {
  @IsString()
  @Length(1, 40)
  sku!: string;

  @IsInt()
  @Min(1)
  @Max(1000)
  quantity!: number;
}

/** inventory.reserve's payload, validated by a ValidationPipe on the handler's @RabbitPayload(). */
export class ReserveRequestDto implements ReserveRequest {
  @IsString()
  @Length(1, 100)
  orderId!: string;

  @ValidateNested({ each: true })
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @Type(() => ReserveLineDto)
  items!: ReserveLineDto[];
}
