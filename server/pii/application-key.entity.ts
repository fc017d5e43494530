import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { ApplicationSchema } from '../applications/application.entity.ts';

/**
 * The data key of one application, wrapped by the configured key `keyId`. Erasure deletes the
 * row, which leaves the application's encrypted fields unreadable.
 */
export const ApplicationKeySchema = defineEntity({
  name: 'ApplicationKey',
  tableName: 'application_keys',
  properties: {
    application: () => p.manyToOne(ApplicationSchema).primary().ref(),
    keyId: p.string().length(32).index('application_keys_key_id_index'),
    wrappedKey: p.text(),
    createdAt: p.datetime(),
  },
});

export type ApplicationKey = InferEntity<typeof ApplicationKeySchema>;
