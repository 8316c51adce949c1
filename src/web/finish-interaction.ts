import type { ServerResponse } from 'node:http';
import type { InteractionResults, Provider } from 'oidc-provider';

/** The Interaction that provider.interactionDetails resolved. */
export type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * provider.interactionFinished for an Interaction the route already holds from interactionDetails
 * earlier in the same request. interactionFinished looks it up again by its cookie (one more store
 * read, two when it has a session) only to do what follows here, through the model's public API:
 * set the result (merged over lastSubmission unless told not to or it is an error), save it for
 * the rest of its lifetime (persist() is oidc-provider's own `save(exp - now)`), and answer 303 to
 * its returnTo. Not read again, a form posted twice saves its result even if the first post was
 * already resumed; resuming it again needs the resume cookie, which that first resume cleared.
 * Rejects when the store cannot save; nothing has been sent then.
 */
export async function finishInteraction(
  res: ServerResponse,
  interaction: Interaction,
  result: InteractionResults,
  { mergeWithLastSubmission = true }: { mergeWithLastSubmission?: boolean } = {},
): Promise<void> {
  interaction.result = mergeWithLastSubmission && !('error' in result) ? { ...interaction.lastSubmission, ...result } : result;
  await interaction.persist();
  res.statusCode = 303;
  res.setHeader('Location', interaction.returnTo);
  res.setHeader('Content-Length', '0');
  res.end();
}
