/**
 * Runs the worker: calls the orders API every WORKER_INTERVAL seconds (or once with --once) and prints
 * what it got. Stop it with Ctrl-C.
 */
import { settingsFromEnvironment } from './settings.ts';
import { createOrdersWorker } from './worker.ts';

const settings = settingsFromEnvironment();
const worker = createOrdersWorker(settings);
const once = process.argv.includes('--once');
const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
process.once('SIGTERM', () => controller.abort());

console.log(
  `worker: calling ${settings.ordersApiUrl}/orders as ${settings.clientId} (issuer ${settings.issuer})`,
);
while (!controller.signal.aborted) {
  try {
    const orders = await worker.listOrders(controller.signal);
    console.log(new Date().toISOString(), JSON.stringify(orders));
  } catch (error) {
    if (controller.signal.aborted) break;
    console.error(new Date().toISOString(), (error as Error).message);
    if (once) process.exitCode = 1;
  }
  if (once) break;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, settings.interval * 1000);
    controller.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
