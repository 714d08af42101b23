import { z } from 'zod';

/** What a publish answers (202): the id the event log gave the event. */
export const publishedSchema = z.strictObject({ id: z.string() }).meta({ id: 'Published' });
