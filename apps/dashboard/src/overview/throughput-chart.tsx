import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Stats } from '../api/wire-types';
import { bucketName } from '../components/format';

const SERIES = [
  { key: 'started', label: 'started', stroke: '#3b6fd8' },
  { key: 'committed', label: 'committed', stroke: '#2e8b57' },
  { key: 'aborted', label: 'aborted', stroke: '#c88a12' },
  { key: 'failed', label: 'failed', stroke: '#c62828' },
] as const;

/** started / committed / aborted / failed per bucket (a minute for the 1 h window), drawn with uPlot. */
export function ThroughputChart({ series, bucketSeconds }: { series: Stats['series']; bucketSeconds: number }) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  const data: uPlot.AlignedData = [
    series.map((point) => Date.parse(point.at) / 1000),
    ...SERIES.map(({ key }) => series.map((point) => point[key])),
  ];

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const options: uPlot.Options = {
      width: Math.max(320, contentWidth(element)),
      height: 240,
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      // 80 px between time ticks: at uPlot's default, a narrow card's labels ran into each other
      axes: [{ space: 80 }, { label: `per ${bucketName(bucketSeconds)}` }],
      series: [{}, ...SERIES.map(({ label, stroke }) => ({ label, stroke, width: 2, points: { show: false } }))],
    };
    plot.current = new uPlot(options, data, element);
    const resize = new ResizeObserver(() =>
      plot.current?.setSize({ width: Math.max(320, contentWidth(element)), height: 240 }),
    );
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // made once per bucket size; new data goes through setData below
  }, [bucketSeconds]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return <div ref={container} className="chart" data-testid="throughput-chart" />;
}

/** The width inside `element`'s padding: what the plot may fill without spilling over its card. */
function contentWidth(element: HTMLElement): number {
  const style = getComputedStyle(element);
  return element.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
}
