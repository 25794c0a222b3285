import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A registered participant service. */
@Entity('txc_participants')
export class ParticipantEntity {
  @PrimaryColumn('text') name: string;
  @Column('text') url: string;
  @Column('text', { default: 'http' }) transport: string;
  @Column('integer', { name: 'ttl_seconds', nullable: true }) ttlSeconds: number | null;
  @Column('text', { nullable: true }) secret: string | null;
  @Column('jsonb', { default: {} }) metadata: Record<string, unknown>;
  @Column('timestamptz', { name: 'created_at', default: () => 'now()' }) createdAt: Date;
  @Column('timestamptz', { name: 'updated_at', default: () => 'now()' }) updatedAt: Date;
  @Column('timestamptz', { name: 'last_seen_at', default: () => 'now()' }) lastSeenAt: Date;
}
