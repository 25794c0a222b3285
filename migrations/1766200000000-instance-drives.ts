import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `txc_instances.drives`: false for an instance that drives no transaction (`ROLE=api`). The
 * participant limits are shared among the instances that make calls; one that makes none must not
 * hold a share, or a limit of 1 would leave the worker nothing and a healthy participant uncalled.
 */
export class InstanceDrives1766200000000 implements MigrationInterface {
  name = 'InstanceDrives1766200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE txc_instances ADD COLUMN drives boolean NOT NULL DEFAULT true`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE txc_instances DROP COLUMN drives`);
  }
}
