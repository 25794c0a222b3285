import { Injectable } from '@nestjs/common';
import {
  BusinessRejection,
  MessageHandler,
  SagaAction,
  SagaCompensate,
  TccCancel,
  TccConfirm,
  TccTry,
  type PhaseHandlerContext,
} from '#participant/nest';

/** What a shipping branch carries: what to send, and where. */
export interface ShipmentPayload {
  sku: string;
  quantity: number;
  address: string;
}

type Shipment = PhaseHandlerContext<ShipmentPayload>;

/** A parcel holds at most this many items: more is a business no (the transaction rolls back). */
export const MAX_PARCEL_ITEMS = 50;

/** The shipping service's table: one shipment per (transaction, branch). */
export const SHIPPING_DDL = [
  `CREATE TABLE IF NOT EXISTS demo_shipments (transaction_id text NOT NULL, branch_id text NOT NULL,
     sku text NOT NULL, quantity integer NOT NULL, address text NOT NULL,
     status text NOT NULL CHECK (status IN ('reserved', 'scheduled', 'cancelled')),
     updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (transaction_id, branch_id))`,
];

/**
 * The shipping service, written with the participant SDK's decorators and reached over NATS
 * (`txn.<name>.<phase>`). Each handler runs in the barrier's local transaction through `manager`,
 * so a redelivered phase never schedules or cancels a parcel twice, and a cancellation that
 * overtakes its schedule does nothing and fences the late schedule off.
 *
 * - saga: action schedules the shipment, compensate cancels it; a message's action schedules it;
 * - TCC: try reserves a courier slot, confirm schedules, cancel drops the reservation.
 */
@Injectable()
export class ShippingHandlers {
  @SagaAction()
  @MessageHandler()
  async schedule({ payload, manager, transactionId, branchId }: Shipment) {
    const shipment = parcelOf(payload);
    await manager.query(
      `INSERT INTO demo_shipments (transaction_id, branch_id, sku, quantity, address, status)
       VALUES ($1, $2, $3, $4, $5, 'scheduled')`,
      [transactionId, branchId, shipment.sku, shipment.quantity, shipment.address],
    );
    return { shipment: `${transactionId}/${branchId}`, status: 'scheduled' };
  }

  @TccTry()
  async reserve({ payload, manager, transactionId, branchId }: Shipment) {
    const shipment = parcelOf(payload);
    await manager.query(
      `INSERT INTO demo_shipments (transaction_id, branch_id, sku, quantity, address, status)
       VALUES ($1, $2, $3, $4, $5, 'reserved')`,
      [transactionId, branchId, shipment.sku, shipment.quantity, shipment.address],
    );
    return { shipment: `${transactionId}/${branchId}`, status: 'reserved' };
  }

  @TccConfirm()
  async confirm({ manager, transactionId, branchId }: Shipment) {
    return this.mark(manager, transactionId, branchId, 'scheduled');
  }

  @SagaCompensate()
  @TccCancel()
  async cancel({ manager, transactionId, branchId }: Shipment) {
    return this.mark(manager, transactionId, branchId, 'cancelled');
  }

  private async mark(manager: Shipment['manager'], transactionId: string, branchId: string, status: string) {
    await manager.query(
      'UPDATE demo_shipments SET status = $3, updated_at = now() WHERE transaction_id = $1 AND branch_id = $2',
      [transactionId, branchId, status],
    );
    return { shipment: `${transactionId}/${branchId}`, status };
  }
}

/** The payload checked; a malformed or oversized parcel is a {@link BusinessRejection}. */
function parcelOf(payload: unknown): ShipmentPayload {
  const p = (payload ?? {}) as Record<string, unknown>;
  if (typeof p.sku !== 'string' || p.sku.length === 0)
    throw new BusinessRejection('payload.sku must be a non-empty string');
  if (typeof p.address !== 'string' || p.address.trim().length === 0)
    throw new BusinessRejection('payload.address must be a non-empty string');
  if (!Number.isSafeInteger(p.quantity) || (p.quantity as number) < 1)
    throw new BusinessRejection('payload.quantity must be a positive integer');
  if ((p.quantity as number) > MAX_PARCEL_ITEMS) {
    throw new BusinessRejection(`a parcel holds at most ${MAX_PARCEL_ITEMS} items, asked ${p.quantity as number}`, {
      maxItems: MAX_PARCEL_ITEMS,
    });
  }
  return { sku: p.sku, quantity: p.quantity as number, address: p.address };
}
