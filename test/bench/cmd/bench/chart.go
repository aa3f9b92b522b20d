package main

import (
	"fmt"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var contenderColors = map[string]color.Color{
	contBaton:    color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	contOfficial: color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	contLimit:    color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
	contPython:   color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	contBatonV2:  color.RGBA{R: 0x17, G: 0xbe, B: 0xcf, A: 0xff},
	contBaseline: color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
}

var contenderLabels = map[string]string{contBaton: "Baton", contOfficial: "official SDK", contLimit: "limit", contBaseline: "no worker", contPython: "official Python SDK", contBatonV2: "Baton, update-v2"}

// groupedBars draws one bar per contender in each group (medians).
func groupedBars(title, ylabel, format string, groups []string, value func(group int, contender string) float64) (*plot.Plot, error) {
	return groupedBarsOf(contenders, title, ylabel, format, groups, value)
}

// groupedBarsOf is groupedBars over the given contenders (at most four).
func groupedBarsOf(conts []string, title, ylabel, format string, groups []string, value func(group int, contender string) float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	w := vg.Points(18)
	for i, c := range conts {
		vals := make(plotter.Values, len(groups))
		for g := range groups {
			vals[g] = value(g, c)
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, err
		}
		bars.LineStyle.Width = 0
		bars.Color = contenderColors[c]
		bars.Offset = w * vg.Length(float64(i)-float64(len(conts)-1)/2)
		p.Add(bars)
		p.Legend.Add(contenderLabels[c], bars)
		// The value above each bar, so small bars can still be read.
		xys := make(plotter.XYs, len(groups))
		labels := make([]string, len(groups))
		for g := range groups {
			xys[g] = plotter.XY{X: float64(g), Y: vals[g]}
			labels[g] = fmt.Sprintf(format, vals[g])
		}
		lab, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
		if err != nil {
			return nil, err
		}
		for i := range lab.TextStyle {
			lab.TextStyle[i].Font.Size = vg.Points(7)
			lab.TextStyle[i].XAlign = draw.XCenter
		}
		lab.Offset = vg.Point{X: bars.Offset, Y: vg.Points(2)}
		p.Add(lab)
	}
	p.NominalX(groups...)
	return p, nil
}

// drawChart writes a PNG with the throughput and the pickup latency of each
// contender (medians over rounds).
func drawChart(res results, path string) error {
	var tputGroups []string
	var tputKeys []string
	for _, k := range []string{"tput1", "tput10", "tput100", "mixed"} {
		if _, ok := res[k]; ok {
			tputKeys = append(tputKeys, k)
			label := map[string]string{"tput1": "batch 1", "tput10": "batch 10", "tput100": "batch 100", "mixed": "20 ms handler, batch 50"}[k]
			tputGroups = append(tputGroups, label)
		}
	}
	var plots []*plot.Plot
	if len(tputKeys) > 0 {
		p, err := groupedBars("Throughput, medians (higher is better)", "tasks/s", "%.0f", tputGroups, func(g int, c string) float64 {
			return res.med(tputKeys[g], c, mTPS)
		})
		if err != nil {
			return err
		}
		plots = append(plots, p)
	}
	if _, ok := res["latency"]; ok {
		keys := []string{mP50, mP90, mP99}
		p, err := groupedBars("Idle pickup latency, medians (lower is better)", "ms", "%.1f", []string{"p50", "p90", "p99"}, func(g int, c string) float64 {
			return res.med("latency", c, keys[g])
		})
		if err != nil {
			return err
		}
		p.Legend.Left = true
		plots = append(plots, p)
	}
	if len(plots) == 0 {
		return fmt.Errorf("no throughput or latency results to draw")
	}
	width, height := vg.Points(520*float64(len(plots))), vg.Points(380)
	img := vgimg.New(width, height)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Points(20), PadTop: vg.Points(10), PadBottom: vg.Points(10), PadLeft: vg.Points(10), PadRight: vg.Points(10)}
	canvases := plot.Align([][]*plot.Plot{plots}, tiles, dc)
	for i, p := range plots {
		p.Draw(canvases[0][i])
	}
	return savePNG(img, path)
}

func savePNG(img *vgimg.Canvas, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
