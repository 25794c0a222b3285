/**
 * Checks that the coordinator serves the built dashboard at `/`, deep links included, and says
 * what to do when it does not (the tests run the coordinator from dist/, built by `npm run build`).
 */
export async function assertDashboardServed(coordinatorUrl: string): Promise<void> {
  const deepLink = await fetch(`${coordinatorUrl}/transactions/some-id`, { headers: { accept: 'text/html' } });
  const page = await deepLink.text();
  if (!deepLink.ok || !page.includes('<div id="root">')) {
    throw new Error(
      `the coordinator does not serve the dashboard at ${coordinatorUrl}/ (GET /transactions/some-id answered ` +
        `${deepLink.status}: ${page.slice(0, 200)}); run npm run build first`,
    );
  }
}
