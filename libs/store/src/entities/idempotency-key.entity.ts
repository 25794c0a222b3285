import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** The first response given for an `Idempotency-Key`, replayed to every repeat within its lifetime. */
@Entity('txc_idempotency_keys')
@Index('txc_idempotency_keys_expiry', ['expiresAt'])
@Index('txc_idempotency_keys_transaction', { synchronize: false }) // partial (WHERE transaction_id IS NOT NULL): migration 1765600000000
export class IdempotencyKeyEntity {
  @PrimaryColumn('text') key: string;
  @Column('text', { name: 'request_hash' }) requestHash: string;
  @Column('text', { name: 'transaction_id', nullable: true }) transactionId: string | null;
  @Column('integer', { name: 'response_status', nullable: true }) responseStatus: number | null;
  @Column('jsonb', { name: 'response_body', nullable: true }) responseBody: unknown;
  @Column('jsonb', { name: 'response_headers', nullable: true }) responseHeaders: Record<string, string> | null;
  @Column('timestamptz', { name: 'created_at', default: () => 'now()' }) createdAt: Date;
  @Column('timestamptz', { name: 'expires_at' }) expiresAt: Date;
  /** The coordinator instance whose request claimed the key (null: claimed before instances were recorded). */
  @Column('text', { nullable: true }) holder: string | null;
}
