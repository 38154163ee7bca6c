/**
 * What the NATS server handled during a scenario, from its monitoring
 * endpoints: JetStream API requests (/jsz api.total: stream/consumer info,
 * consumer create, ...) and messages in and out (/varz: every publish,
 * request, reply, ack, KV operation and delivery).
 */
export interface NatsCounts {
  api: number;
  inMsgs: number;
  outMsgs: number;
}

async function read(monitorUrl: string): Promise<NatsCounts> {
  const [jsz, varz] = await Promise.all([
    fetch(`${monitorUrl}/jsz`).then((r) => r.json() as Promise<{ api?: { total?: number } }>),
    fetch(`${monitorUrl}/varz`).then((r) => r.json() as Promise<{ in_msgs?: number; out_msgs?: number }>),
  ]);
  return { api: jsz.api?.total ?? 0, inMsgs: varz.in_msgs ?? 0, outMsgs: varz.out_msgs ?? 0 };
}

export async function startNatsMeter(monitorUrl: string): Promise<{ read(): Promise<NatsCounts> }> {
  const start = await read(monitorUrl);
  return {
    async read() {
      const now = await read(monitorUrl);
      return { api: now.api - start.api, inMsgs: now.inMsgs - start.inMsgs, outMsgs: now.outMsgs - start.outMsgs };
    },
  };
}
