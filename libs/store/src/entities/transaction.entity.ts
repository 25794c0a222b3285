import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A global transaction. `owner` + `version` fence the instance driving it: every write is guarded by
 * the version it last read, and taking over bumps it.
 */
@Entity('txc_transactions')
@Index('txc_transactions_newest', ['createdAt', 'id'])
@Index('txc_transactions_updated', ['updatedAt'])
// ordered, partial or GIN indexes entities cannot describe: declared so the drift check knows them,
// left to the migrations (synchronize: false)
@Index('txc_transactions_status', { synchronize: false })
@Index('txc_transactions_protocol', { synchronize: false })
@Index('txc_transactions_participants', { synchronize: false })
@Index('txc_transactions_due', { synchronize: false })
@Index('txc_transactions_owner', { synchronize: false })
@Index('txc_transactions_id_prefix', { synchronize: false })
export class TransactionEntity {
  @PrimaryColumn('text') id: string;
  @Column('text') protocol: string;
  @Column('text') mode: string;
  @Column('text') status: string;
  @Column('text', { nullable: true }) decision: string | null;
  @Column('integer', { name: 'timeout_ms' }) timeoutMs: number;
  @Column('timestamptz') deadline: Date;
  @Column('jsonb') retry: { maxAttempts: number; initialBackoffMs: number; maxBackoffMs: number };
  @Column('text', { name: 'request_hash' }) requestHash: string;
  @Column('text', { array: true }) participants: string[];
  @Column('text', { nullable: true }) error: string | null;
  @Column('text', { nullable: true }) owner: string | null;
  @Column('integer', { default: 1 }) version: number;
  @Column('timestamptz', { name: 'wake_at', nullable: true }) wakeAt: Date | null;
  @Column('boolean', { name: 'abort_requested', default: false }) abortRequested: boolean;
  /** Who flagged the abort and why, for the owning instance to record. */
  @Column('jsonb', { name: 'abort_note', nullable: true }) abortNote: Record<string, unknown> | null;
  @Column('timestamptz', { name: 'created_at', default: () => 'now()' }) createdAt: Date;
  @Column('timestamptz', { name: 'updated_at', default: () => 'now()' }) updatedAt: Date;
}
