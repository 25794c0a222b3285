import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A running coordinator process; its heartbeat is its claim to the transactions it owns. */
@Entity('txc_instances')
export class InstanceEntity {
  @PrimaryColumn('text') id: string;
  @Column('text') host: string;
  @Column('integer') pid: number;
  /** Kernel boot and PID namespace (see the migration); an instance in the same one can check the pid. */
  @Column('text', { name: 'process_scope', nullable: true }) processScope: string | null;
  /** False for an instance that drives no transaction (`ROLE=api`): it holds no share of participant limits. */
  @Column('boolean', { default: true }) drives: boolean;
  @Column('timestamptz', { name: 'started_at', default: () => 'now()' }) startedAt: Date;
  @Column('timestamptz', { name: 'heartbeat_at', default: () => 'now()' }) heartbeatAt: Date;
}
