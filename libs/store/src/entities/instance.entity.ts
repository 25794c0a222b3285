import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A running coordinator process; its heartbeat is its claim to the transactions it owns. */
@Entity('txc_instances')
export class InstanceEntity {
  @PrimaryColumn('text') id: string;
  @Column('text') host: string;
  @Column('integer') pid: number;
  @Column('timestamptz', { name: 'started_at', default: () => 'now()' }) startedAt: Date;
  @Column('timestamptz', { name: 'heartbeat_at', default: () => 'now()' }) heartbeatAt: Date;
}
