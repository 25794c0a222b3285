import { Check, Column, Entity, PrimaryColumn } from 'typeorm';

/** An API key created through the admin API; the secret itself is never stored. */
@Entity('txc_api_keys')
@Check('txc_api_keys_role_check', `role IN ('viewer', 'client', 'participant', 'operator', 'admin')`)
export class ApiKeyEntity {
  @PrimaryColumn('text') name: string;
  @Column('text') role: string;
  @Column('text', { name: 'secret_hash', unique: true }) secretHash: string;
  @Column('text', { name: 'created_by' }) createdBy: string;
  @Column('timestamptz', { name: 'created_at', default: () => 'now()' }) createdAt: Date;
}
