import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** An alert waiting for (or past) delivery to the alert webhook. `key` makes each alert unique. */
@Entity('txc_alerts')
@Index('txc_alerts_key', ['key'], { unique: true })
// a partial index the entity cannot describe, left to the migration
@Index('txc_alerts_due', { synchronize: false })
export class AlertEntity {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' }) id: string;
  @Column('text') key: string;
  @Column('text') kind: string;
  @Column('jsonb') payload: Record<string, unknown>;
  @Column('integer', { default: 0 }) attempts: number;
  @Column('timestamptz', { name: 'next_at', default: () => 'now()' }) nextAt: Date;
  @Column('timestamptz', { name: 'delivered_at', nullable: true }) deliveredAt: Date | null;
  @Column('text', { name: 'last_error', nullable: true }) lastError: string | null;
  @Column('timestamptz', { name: 'created_at', default: () => 'now()' }) createdAt: Date;
}
