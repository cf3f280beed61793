import * as echarts from 'echarts';

export interface BarPanel {
  title: string;
  /** The groups along the x axis (e.g. workloads). */
  categories: string[];
  /** One bar per series in each group (e.g. variants); null leaves a gap. */
  series: Array<{ name: string; values: Array<number | null>; color?: string }>;
  /** Decimals of the value printed on each bar. */
  decimals?: number;
}

export interface BarChart {
  title: string;
  /** A line under the title: the command, machine and date that produced the figures. */
  subtitle?: string;
  panels: BarPanel[];
  panelWidth?: number;
  height?: number;
}

const MARGIN = 56;
const TOP = 120;

/**
 * Grouped bar charts side by side, rendered to an SVG string in Node with echarts' server-side renderer (no
 * DOM, no canvas). Animation must be off and the chart disposed, or echarts keeps a timer and the process
 * does not exit.
 */
export function barChartSvg(chart: BarChart): string {
  const panelWidth = chart.panelWidth ?? 520;
  const width = panelWidth * chart.panels.length;
  const height = chart.height ?? 460;
  const instance = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    instance.setOption({
      animation: false,
      backgroundColor: '#ffffff',
      title: [
        { text: chart.title, subtext: chart.subtitle, left: 'center', top: 8 },
        ...chart.panels.map((panel, i) => ({
          text: panel.title,
          left: i * panelWidth + panelWidth / 2,
          textAlign: 'center',
          top: TOP - 28,
          textStyle: { fontSize: 14 },
        })),
      ],
      legend: { top: 62 },
      tooltip: {},
      grid: chart.panels.map((_, i) => ({
        left: i * panelWidth + MARGIN,
        width: panelWidth - 2 * MARGIN,
        top: TOP,
        bottom: 40,
      })),
      xAxis: chart.panels.map((panel, i) => ({ type: 'category', gridIndex: i, data: panel.categories })),
      yAxis: chart.panels.map((_, i) => ({ type: 'value', gridIndex: i })),
      series: chart.panels.flatMap((panel, i) =>
        panel.series.map((series) => ({
          type: 'bar',
          name: series.name,
          xAxisIndex: i,
          yAxisIndex: i,
          data: series.values,
          itemStyle: series.color ? { color: series.color } : undefined,
          label: {
            show: true,
            position: 'top',
            fontSize: 10,
            formatter: ({ value }: { value: unknown }) =>
              typeof value === 'number' ? value.toFixed(panel.decimals ?? 0) : '',
          },
        })),
      ),
    });
    return instance.renderToSVGString();
  } finally {
    instance.dispose();
  }
}
