import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A registered participant service: its settings; where it runs is in its instances. */
@Entity('txc_participants')
export class ParticipantEntity {
  @PrimaryColumn('text') name: string;
  @Column('text') url: string;
  @Column('text', { default: 'http' }) transport: string;
  @Column('integer', { name: 'ttl_seconds', nullable: true }) ttlSeconds: number | null;
  @Column('text', { nullable: true }) secret: string | null;
  @Column('jsonb', { default: {} }) metadata: Record<string, unknown>;
  @Column('integer', { name: 'max_concurrency', nullable: true }) maxConcurrency: number | null;
  @Column('double precision', { name: 'rate_per_second', nullable: true }) ratePerSecond: number | null;
  @Column('boolean', { name: 'auto_replay', default: false }) autoReplay: boolean;
  /** Since when an instance has been up with a closed circuit; null while none is. */
  @Column('timestamptz', { name: 'healthy_since', nullable: true }) healthySince: Date | null;
  @Column('timestamptz', { name: 'created_at', default: () => 'now()' }) createdAt: Date;
  @Column('timestamptz', { name: 'updated_at', default: () => 'now()' }) updatedAt: Date;
  @Column('timestamptz', { name: 'last_seen_at', default: () => 'now()' }) lastSeenAt: Date;
}
