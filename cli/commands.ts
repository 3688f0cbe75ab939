// The command registry. Each command lives in its own module and is loaded lazily so `weir lint` stays fast.
import type { Command } from './command.js';

type Loader = () => Promise<Command>;

export const commands: Record<string, Loader> = {
  lint: async () => (await import('./lint.js')).lintCommand,
  build: async () => (await import('./build.js')).buildCommand,
  verify: async () => (await import('./verify.js')).verifyCommand,
  test: async () => (await import('./test.js')).testCommand,
  explain: async () => (await import('./explain.js')).explainCommand,
  plan: async () => (await import('./plan.js')).planCommand,
  connectivity: async () => (await import('./connectivity.js')).connectivityCommand,
  convert: async () => (await import('./convert.js')).convertCommand,
  render: async () => (await import('./render.js')).renderCommand,
  keys: async () => (await import('./keys.js')).keysCommand,
  controller: async () => (await import('./controller.js')).controllerCommand,
  agent: async () => (await import('./agent.js')).agentCommand,
  demo: async () => (await import('./demo.js')).demoCommand,
  events: async () => (await import('./events.js')).eventsCommand,
};
