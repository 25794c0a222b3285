import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `txc_instances.process_scope`: the kernel boot and PID namespace an instance runs in (Linux:
 * `/proc/sys/kernel/random/boot_id` and the inode of `/proc/self/ns/pid`), null where unknown. An
 * instance in the same scope can see for itself that another's process is gone (its pid does not
 * exist), and take that instance's transactions at once instead of waiting out the heartbeat TTL:
 * a coordinator restarted after a crash recovers its own work in seconds.
 */
export class InstanceProcessScope1765700000000 implements MigrationInterface {
  name = 'InstanceProcessScope1765700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE txc_instances ADD COLUMN process_scope text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE txc_instances DROP COLUMN process_scope`);
  }
}
