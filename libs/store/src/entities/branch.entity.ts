import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** One branch of a transaction: a participant and the phases it is driven through. */
@Entity('txc_branches')
// a partial index entities cannot describe (migration 1764900000000), declared for the drift check
@Index('txc_branches_retrying', { synchronize: false })
export class BranchEntity {
  @PrimaryColumn('text', { name: 'transaction_id' }) transactionId: string;
  @PrimaryColumn('text') id: string;
  @Column('integer') position: number;
  @Column('text') participant: string;
  @Column('text', { name: 'depends_on', array: true, default: '{}' }) dependsOn: string[];
  @Column('jsonb', { default: {} }) paths: Record<string, string | null>;
  @Column('text', { name: 'skipped_phases', array: true, default: '{}' }) skippedPhases: string[];
  @Column('jsonb', { nullable: true }) payload: unknown;
  @Column('text') status: string;
  @Column('text') phase: string;
  @Column('integer', { default: 0 }) attempt: number;
  @Column('integer', { name: 'budget_base', default: 0 }) budgetBase: number;
  @Column('boolean', { name: 'in_flight', default: false }) inFlight: boolean;
  @Column('timestamptz', { name: 'retry_at', nullable: true }) retryAt: Date | null;
  @Column('jsonb', { nullable: true }) result: unknown;
}
