import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The append-only log of what happened to a transaction: the dashboard's timeline. */
@Entity('txc_events')
export class EventEntity {
  @PrimaryColumn('text', { name: 'transaction_id' }) transactionId: string;
  @PrimaryColumn('integer') seq: number;
  @Column('timestamptz') at: Date;
  @Column('text') type: string;
  @Column('text', { name: 'branch_id', nullable: true }) branchId: string | null;
  @Column('text', { nullable: true }) phase: string | null;
  @Column('integer', { nullable: true }) attempt: number | null;
  @Column('text', { nullable: true }) outcome: string | null;
  @Column('jsonb', { nullable: true }) detail: Record<string, unknown> | null;
}
