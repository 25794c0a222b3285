import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One running instance of a participant, with its lease and the last circuit state published for it. */
@Entity('txc_participant_instances')
export class ParticipantInstanceEntity {
  @PrimaryColumn('text') participant: string;
  @PrimaryColumn('text', { name: 'instance_id' }) instanceId: string;
  @Column('text') url: string;
  @Column('text', { default: 'http' }) transport: string;
  @Column('integer', { name: 'ttl_seconds', nullable: true }) ttlSeconds: number | null;
  @Column('jsonb', { default: {} }) metadata: Record<string, unknown>;
  /** Set when the instance deregistered: it is draining and gets no new call. */
  @Column('timestamptz', { name: 'left_at', nullable: true }) leftAt: Date | null;
  @Column('text', { default: 'closed' }) circuit: string;
  @Column('timestamptz', { name: 'circuit_changed_at', nullable: true }) circuitChangedAt: Date | null;
  @Column('timestamptz', { name: 'registered_at', default: () => 'now()' }) registeredAt: Date;
  @Column('timestamptz', { name: 'last_seen_at', default: () => 'now()' }) lastSeenAt: Date;
}
