// Search attributes the runbooks upsert so the Temporal UI and `runbook list` can filter runs.
// The dev server registers them at start (`--search-attribute`); on Temporal Cloud create them once
// (see README).
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const RunbookNameKey = defineSearchAttributeKey('RunbookName', SearchAttributeType.KEYWORD);
export const RunbookStatusKey = defineSearchAttributeKey('RunbookStatus', SearchAttributeType.KEYWORD);
export const RunbookTargetKey = defineSearchAttributeKey('RunbookTarget', SearchAttributeType.KEYWORD);
export const RunbookInitiatorKey = defineSearchAttributeKey('RunbookInitiator', SearchAttributeType.KEYWORD);

/** name → type, as `temporal server start-dev --search-attribute name=Type` wants them. */
export const SEARCH_ATTRIBUTES: Record<string, 'Keyword'> = {
  RunbookName: 'Keyword',
  RunbookStatus: 'Keyword',
  RunbookTarget: 'Keyword',
  RunbookInitiator: 'Keyword',
};
