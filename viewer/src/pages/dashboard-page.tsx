import type { ChartConfiguration } from 'chart.js';
import { useMemo, useState } from 'preact/hooks';
import { type Identity, canReadAll } from '../api';
import { Message } from '../components/badges';
import { ChartView, themeColors } from '../components/chart';
import { useJson } from '../components/use-json';
import { formatAgo, formatCount, formatTime } from '../format';

interface StatsRow {
  key: string;
  action?: string;
  events: number;
  failures: number;
}
interface Stats {
  items: StatsRow[];
  refreshedAt: string | null;
}

const DAY = 86_400_000;

/** The materialized-view figures as charts: events per day by action, failure rate, top actors. */
export function DashboardPage({ me, theme }: { me: Identity; theme: string }) {
  const [days, setDays] = useState(30);
  const [organizationId, setOrganizationId] = useState('');
  const scope = canReadAll(me) && organizationId ? { organizationId } : {};
  const from = useMemo(
    () => new Date(Math.floor(Date.now() / DAY) * DAY - (days - 1) * DAY).toISOString(),
    [days],
  );
  const key = `${days}|${organizationId}`;
  const byDay = useJson<Stats>('stats', { groupBy: 'dayAction', from, ...scope }, key);
  const actors = useJson<Stats>('stats', { groupBy: 'actor', limit: '10', from, ...scope }, key);
  const daily = useJson<Stats>('stats', { groupBy: 'day', from, ...scope }, key);
  const refreshedAt = byDay.data?.refreshedAt ?? null;

  return (
    <section aria-labelledby="dashboard-title">
      <h1 id="dashboard-title">Dashboard</h1>
      <div class="toolbar">
        <label class="field">
          <span>Period</span>
          <select
            value={String(days)}
            onChange={(e) => setDays(Number((e.target as HTMLSelectElement).value))}
          >
            <option value="7">Last 7 days</option>
            <option value="30">Last 30 days</option>
            <option value="90">Last 90 days</option>
          </select>
        </label>
        {canReadAll(me) && (
          <label class="field">
            <span>Organization</span>
            <input
              type="search"
              placeholder="all"
              value={organizationId}
              onChange={(e) => setOrganizationId((e.target as HTMLInputElement).value.trim())}
            />
          </label>
        )}
        <p class="refreshed" role="status">
          Figures as of{' '}
          {refreshedAt
            ? `${formatTime(refreshedAt)} (${formatAgo(refreshedAt)})`
            : 'never: the views were not refreshed yet'}
        </p>
      </div>
      {[byDay.error, actors.error, daily.error].filter(Boolean).map((error) => (
        <Message kind="error">{error}</Message>
      ))}
      <div class="charts">
        {byDay.data && <EventsByDay rows={byDay.data.items} theme={theme} />}
        {daily.data && <FailureRate rows={daily.data.items} theme={theme} />}
        {actors.data && <TopActors rows={actors.data.items} theme={theme} />}
      </div>
    </section>
  );
}

function Figure({
  title,
  children,
  table,
}: {
  title: string;
  children: preact.ComponentChildren;
  table: preact.ComponentChildren;
}) {
  return (
    <figure class="card">
      <figcaption>{title}</figcaption>
      {children}
      <details>
        <summary>Show the figures</summary>
        {table}
      </details>
    </figure>
  );
}

function EventsByDay({ rows, theme }: { rows: StatsRow[]; theme: string }) {
  const config = useMemo((): ChartConfiguration => {
    const days = [...new Set(rows.map((r) => r.key))].sort();
    const actions = [...new Set(rows.map((r) => r.action ?? ''))].sort();
    const { series } = themeColors();
    return {
      type: 'bar',
      data: {
        labels: days,
        datasets: actions.map((action, i) => ({
          label: action,
          backgroundColor: series[i % series.length],
          data: days.map((day) => rows.find((r) => r.key === day && r.action === action)?.events ?? 0),
        })),
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
    };
  }, [rows, theme]);
  const total = rows.reduce((n, r) => n + r.events, 0);
  return (
    <Figure
      title={`Events per day by action (${formatCount(total)} in all)`}
      table={
        <Table
          head={['Day', 'Action', 'Events']}
          rows={rows.map((r) => [r.key, r.action ?? '', formatCount(r.events)])}
        />
      }
    >
      <ChartView
        config={config}
        theme={theme}
        label={`Stacked bar chart: events per day by action, ${formatCount(total)} events`}
      />
    </Figure>
  );
}

function FailureRate({ rows, theme }: { rows: StatsRow[]; theme: string }) {
  const rate = (r: StatsRow) => (r.events ? (100 * r.failures) / r.events : 0);
  const config = useMemo((): ChartConfiguration => {
    const { series } = themeColors();
    return {
      type: 'line',
      data: {
        labels: rows.map((r) => r.key),
        datasets: [
          {
            label: 'Failure rate (%)',
            data: rows.map(rate),
            borderColor: series[3] ?? series[0],
            backgroundColor: series[3] ?? series[0],
          },
        ],
      },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: '%' } } } },
    };
  }, [rows, theme]);
  const events = rows.reduce((n, r) => n + r.events, 0);
  const failures = rows.reduce((n, r) => n + r.failures, 0);
  const overall = events ? ((100 * failures) / events).toFixed(2) : '0';
  return (
    <Figure
      title={`Failure rate per day (${overall}% overall)`}
      table={
        <Table
          head={['Day', 'Events', 'Failures', 'Rate']}
          rows={rows.map((r) => [
            r.key,
            formatCount(r.events),
            formatCount(r.failures),
            `${rate(r).toFixed(2)}%`,
          ])}
        />
      }
    >
      <ChartView
        config={config}
        theme={theme}
        label={`Line chart: failure rate per day, ${overall}% overall`}
      />
    </Figure>
  );
}

function TopActors({ rows, theme }: { rows: StatsRow[]; theme: string }) {
  const config = useMemo((): ChartConfiguration => {
    const { series } = themeColors();
    return {
      type: 'bar',
      data: {
        labels: rows.map((r) => r.key || '(none)'),
        datasets: [
          { label: 'Events', data: rows.map((r) => r.events), backgroundColor: series[0] },
          { label: 'Failures', data: rows.map((r) => r.failures), backgroundColor: series[3] ?? series[1] },
        ],
      },
      options: { indexAxis: 'y', scales: { x: { beginAtZero: true } } },
    };
  }, [rows, theme]);
  return (
    <Figure
      title="Top actors"
      table={
        <Table
          head={['Actor', 'Events', 'Failures']}
          rows={rows.map((r) => [r.key || '(none)', formatCount(r.events), formatCount(r.failures)])}
        />
      }
    >
      <ChartView config={config} theme={theme} label={`Bar chart: the ${rows.length} most active actors`} />
    </Figure>
  );
}

function Table({ head, rows }: { head: string[]; rows: string[][] }) {
  return (
    <table class="figures">
      <thead>
        <tr>
          {head.map((h) => (
            <th scope="col" key={h}>
              {h}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row, i) => (
          <tr key={i}>{row.map((cell, j) => (j === 0 ? <th scope="row">{cell}</th> : <td>{cell}</td>))}</tr>
        ))}
      </tbody>
    </table>
  );
}
