/**
 * `voipbill <command> [options]`: a dispatcher over src/cli/commands/<name>.ts. Each command module exports
 * `command: CliCommand`; adding a file adds a subcommand (no registry to edit), so shared helpers belong outside
 * commands/. Only the requested module is loaded, so one command's heavy imports never slow another down. Commands
 * get their configuration and connections from the CLI context (context.ts), never from the environment directly.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Directory relative paths in arguments are resolved against. */
  readonly cwd: string;
  /** Current time, epoch ms (commands never read the clock themselves). */
  readonly now: () => number;
  /** The command's environment: the CLI context (context.ts) parses the configuration from it, as `npm start` does. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** A subcommand; its name is its file's (commands/<name>.ts), so it is written nowhere else. */
export interface CliCommand {
  /** One line for the command list. */
  readonly summary: string;
  /** Full usage text printed on `voipbill <name> --help` and on a UsageError. */
  readonly usage: string;
  /** Returns the exit code. Throw {@link UsageError} for bad arguments (exit 2 with usage). */
  run(args: readonly string[], io: CliIo): Promise<number>;
}

/** Bad command-line arguments: the dispatcher prints the message and the command's usage, and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * node:util `parseArgs`, its complaints (unknown option, missing value) turned into usage errors. A negative number
 * after an option that takes a value (`--amount -3.50`) is that option's value, not an option: node's parser would
 * call it ambiguous, so it is joined to its option first and the command's own check says what is wrong with it.
 */
export function parseCliArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  const takesValue = (arg: string) => /^--[^=]+$/.test(arg) && config.options?.[arg.slice(2)]?.type === 'string';
  const args = config.args?.flatMap((arg, i, all) => (i > 0 && takesValue(all[i - 1]!) && /^-\d/.test(arg) ? [] : takesValue(arg) && /^-\d/.test(all[i + 1] ?? '') ? [`${arg}=${all[i + 1]}`] : [arg]));
  try {
    return parseArgs(args ? ({ ...config, args } as T) : config);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

const COMMANDS_DIR = join(__dirname, 'commands');

/** Subcommand names available, from the files in src/cli/commands. */
export function commandNames(): string[] {
  return readdirSync(COMMANDS_DIR)
    .filter((f) => /^[a-z][a-z0-9-]*\.ts$/.test(f) && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

async function loadCommand(name: string): Promise<CliCommand> {
  const mod = (await import(pathToFileURL(join(COMMANDS_DIR, `${name}.ts`)).href)) as {
    command?: CliCommand;
    default?: { command?: CliCommand };
  };
  const command = mod.command ?? mod.default?.command;
  if (command === undefined) throw new Error(`src/cli/commands/${name}.ts does not export "command"`);
  return command;
}

async function usage(): Promise<string> {
  const lines = ['usage: voipbill <command> [options]', '', 'commands:'];
  for (const name of commandNames()) {
    const summary = await loadCommand(name).then(
      (c) => c.summary,
      (e: unknown) => `(failed to load: ${(e as Error).message})`,
    );
    lines.push(`  ${name.padEnd(10)} ${summary}`);
  }
  lines.push('', 'Run "voipbill <command> --help" for its options.');
  return lines.join('\n') + '\n';
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 usage). */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(await usage());
    return name === undefined ? 2 : 0;
  }
  if (!commandNames().includes(name)) {
    io.stderr(`voipbill: unknown command ${JSON.stringify(name)}\n\n${await usage()}`);
    return 2;
  }
  const command = await loadCommand(name);
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(command.usage.endsWith('\n') ? command.usage : `${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`voipbill ${name}: ${e.message}\n\n${command.usage}\n`);
      return 2;
    }
    io.stderr(`voipbill ${name}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

/**
 * Output piped into a reader that stops early (`| head`): the closed pipe is the reader saying it has enough, not a
 * failure, so the command ends quietly instead of dying on the write error with a stack trace.
 */
export function endQuietlyOnClosedPipe(stream: NodeJS.WriteStream, exit: (code: number) => void = (code) => process.exit(code)): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') exit(0);
    else throw err;
  });
}

if (require.main === module) {
  endQuietlyOnClosedPipe(process.stdout);
  endQuietlyOnClosedPipe(process.stderr);
  const io: CliIo = {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    cwd: process.cwd(),
    now: () => Date.now(),
    env: process.env,
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`voipbill: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
