// The failure converter used when the payload codec is on (worker/codec.ts): Temporal's default one with
// `encodeCommonAttributes`, which replaces a failure's message and stack trace with "Encoded failure" and carries them
// in a payload instead — a payload the codec then encrypts, so error messages (which name hosts, records and reasons)
// are not stored in clear either. Clients with the codec read the original message back.
//
// Loaded by path (DataConverter.failureConverterPath), also into the workflow sandbox's bundle: import nothing but
// @temporalio/common here.
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
