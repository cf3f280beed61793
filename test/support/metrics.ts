import { INestApplication } from '@nestjs/common';
import request from 'supertest';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Samples of a Prometheus text exposition, plus the metric names it declares (`# TYPE`). */
export class Scrape {
  readonly samples: Sample[] = [];
  readonly declared = new Map<string, string>();

  constructor(readonly text: string) {
    for (const line of text.split('\n')) {
      const type = /^# TYPE (\S+) (\S+)/.exec(line);
      if (type) this.declared.set(type[1], type[2]);
      const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
      if (!sample || line.startsWith('#')) continue;
      const labels: Record<string, string> = {};
      for (const [, key, value] of (sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
        labels[key] = value;
      this.samples.push({ name: sample[1], labels, value: Number(sample[3]) });
    }
  }

  /** Sum of the series of `name` whose labels include `labels`; undefined when there is none. */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    const matching = this.samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
    return matching.length === 0 ? undefined : matching.reduce((sum, s) => sum + s.value, 0);
  }
}

export async function scrape(app: INestApplication): Promise<Scrape> {
  const res = await request(app.getHttpServer()).get('/metrics').expect(200);
  return new Scrape(res.text);
}
