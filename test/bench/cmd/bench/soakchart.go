package main

import (
	"fmt"
	"image/color"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// drawSoakChart writes four panels over time (minutes): workflows completed
// per second, the worker's RSS and heap, its goroutines and its open
// sockets. Restarts are dashed vertical lines.
func drawSoakChart(cfg soakConfig, points []soakPoint, rs []soakRestart, path string) error {
	if len(points) < 2 {
		return fmt.Errorf("soak chart: %d samples, need 2", len(points))
	}
	server := cfg.version
	if cfg.server != "" {
		server = fmt.Sprintf("Conductor %s %s", cfg.version, cfg.store)
	}
	mins := func(d time.Duration) float64 { return d.Minutes() }
	type series struct {
		label string
		c     color.Color
		f     func(soakPoint) float64
	}
	blue := color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	orange := color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	panel := func(title, ylabel string, ss ...series) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "minutes"
		p.Y.Label.Text = ylabel
		p.Y.Min = 0
		p.Legend.Top = true
		ymax := 0.0
		for _, s := range ss {
			xys := make(plotter.XYs, len(points))
			for i, pt := range points {
				xys[i] = plotter.XY{X: mins(pt.at), Y: s.f(pt)}
				ymax = max(ymax, xys[i].Y)
			}
			l, err := plotter.NewLine(xys)
			if err != nil {
				return nil, err
			}
			l.Color = s.c
			l.Width = vg.Points(1.2)
			p.Add(l)
			if len(ss) > 1 {
				p.Legend.Add(s.label, l)
			}
		}
		p.Y.Max = ymax * 1.15
		for _, r := range rs {
			l, err := plotter.NewLine(plotter.XYs{{X: mins(r.at), Y: 0}, {X: mins(r.at), Y: p.Y.Max}})
			if err != nil {
				return nil, err
			}
			l.Color = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(l)
		}
		return p, nil
	}
	secs := soakSampleEvery.Seconds()
	p1, err := panel(fmt.Sprintf("Workflows per second, %s (restarts dashed)", server), "workflows/s",
		series{"completed", blue, func(p soakPoint) float64 { return float64(p.completedInInterval) / secs }})
	if err != nil {
		return err
	}
	p2, err := panel("Worker memory", "MiB",
		series{"RSS", blue, func(p soakPoint) float64 { return float64(p.st.RSSKB) / 1024 }},
		series{"heap in use", orange, func(p soakPoint) float64 { return float64(p.st.HeapInuse) / (1 << 20) }})
	if err != nil {
		return err
	}
	p3, err := panel("Worker goroutines", "goroutines", series{"", blue, func(p soakPoint) float64 { return float64(p.st.Goroutines) }})
	if err != nil {
		return err
	}
	p4, err := panel("Worker open sockets", "sockets", series{"", blue, func(p soakPoint) float64 { return float64(p.st.Sockets) }})
	if err != nil {
		return err
	}
	img := vgimg.New(vg.Points(1000), vg.Points(640))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 2, PadX: vg.Points(20), PadY: vg.Points(20), PadTop: vg.Points(10), PadBottom: vg.Points(10), PadLeft: vg.Points(10), PadRight: vg.Points(10)}
	plots := [][]*plot.Plot{{p1, p2}, {p3, p4}}
	canvases := plot.Align(plots, tiles, dc)
	for r := range plots {
		for c := range plots[r] {
			plots[r][c].Draw(canvases[r][c])
		}
	}
	return savePNG(img, path)
}
