/** Admin commands (client, user, keys): being written. */
export async function adminCommands(command: string, _args: string[]): Promise<number> {
  process.stderr.write(`gatehouse: "${command}" is not available yet\n`);
  return 1;
}
