// One run of the contract suite against one subject: the shared primary+shadow run, started by
// the first case that needs it, and the drivers of their own that the cases ending VMs open.

import { runScenario, type Scenario } from './contract-scenario.js';
import { Session, thenCleanUp } from './contract-session.js';
import type { DriverSubject } from './contract-subject.js';

export class ContractRun {
  private shared: Promise<Scenario> | undefined;

  constructor(readonly subject: DriverSubject) {}

  scenario(): Promise<Scenario> {
    this.shared ??= runScenario(this.subject);
    return this.shared;
  }

  /** A driver for `use` alone (a case that kills its VMs must not take the shared ones down). */
  async alone<T>(use: (session: Session) => Promise<T>): Promise<T> {
    const session = await Session.open(this.subject);
    return thenCleanUp(
      () => use(session),
      () => session.close(),
    );
  }

  /** Closes the shared run's driver (a run that failed to start closed its own). */
  async close(): Promise<void> {
    const scenario = await this.shared?.catch(() => undefined);
    await scenario?.session.close();
  }
}
