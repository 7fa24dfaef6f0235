// Flame graph interactivity: click to zoom, search by regular expression.
// Embedded in every SVG that internal/flamegraph writes; see doc.go. The
// frames are flat <g class="f"> elements in preorder under #frames, each
// with data-depth (0 is "all") and data-count; the tree is rebuilt from
// that order.
(function () {
	"use strict";
	var svg = document.documentElement;
	var unit = svg.getAttribute("data-unit");
	var xpad = Number(svg.getAttribute("data-xpad"));
	var fontSize = Number(svg.getAttribute("data-fontsize"));
	var width = Number(svg.getAttribute("width"));
	var charWidth = 0.59 * fontSize;
	var searchFill = "rgb(230,0,230)";
	var framesEl = document.getElementById("frames");
	var details = document.getElementById("details");
	var unzoomEl = document.getElementById("unzoom");
	var searchEl = document.getElementById("search");
	var matchedEl = document.getElementById("matched");
	var frames = [];
	var total = 0;
	var searching = false;
	var lastTerm = "";

	// commas formats a decimal string as Write does: 1234567 -> 1,234,567.
	function commas(s) {
		return s.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
	}

	// label fits name into w pixels, as Write does.
	function label(name, w) {
		var n = Math.floor((w - 6) / charWidth);
		if (n < 3) {
			return "";
		}
		var cps = Array.from(name);
		if (cps.length <= n) {
			return name;
		}
		return cps.slice(0, n - 2).join("") + "..";
	}

	function init() {
		var gs = framesEl.querySelectorAll("g.f");
		var open = [];
		for (var i = 0; i < gs.length; i++) {
			var g = gs[i];
			var rect = g.querySelector("rect");
			var title = g.querySelector("title").textContent;
			var cs = g.getAttribute("data-count");
			var depth = Number(g.getAttribute("data-depth"));
			var k = title.lastIndexOf(" (" + commas(cs) + " " + unit + ", ");
			var f = {
				g: g, rect: rect, text: g.querySelector("text"), title: title,
				name: k >= 0 ? title.slice(0, k) : title,
				count: Number(cs), depth: depth, parent: -1, end: gs.length,
				x: Number(rect.getAttribute("x")), w: Number(rect.getAttribute("width")),
				fill: rect.getAttribute("fill")
			};
			while (open.length && frames[open[open.length - 1]].depth >= depth) {
				frames[open.pop()].end = i;
			}
			if (open.length) {
				f.parent = open[open.length - 1];
			}
			open.push(i);
			g.fgIndex = i;
			frames.push(f);
		}
		if (frames.length) {
			total = frames[0].count;
		}
		framesEl.addEventListener("click", function (e) {
			var i = frameOf(e.target);
			if (i >= 0) {
				zoom(i);
			}
		});
		framesEl.addEventListener("mouseover", function (e) {
			var i = frameOf(e.target);
			if (i >= 0) {
				details.textContent = frames[i].title;
			}
		});
		framesEl.addEventListener("mouseout", function () {
			details.textContent = " ";
		});
		unzoomEl.addEventListener("click", unzoom);
		searchEl.addEventListener("click", function () {
			if (searching) {
				resetSearch();
			} else {
				searchPrompt();
			}
		});
		document.addEventListener("keydown", function (e) {
			if (e.key === "F3" || (e.ctrlKey || e.metaKey) && (e.key === "f" || e.key === "F")) {
				e.preventDefault();
				searchPrompt();
			} else if (e.key === "Escape") {
				resetSearch();
			}
		});
	}

	function frameOf(el) {
		for (; el && el !== framesEl; el = el.parentNode) {
			if (el.fgIndex !== undefined) {
				return el.fgIndex;
			}
		}
		return -1;
	}

	// place moves frame f to x and makes it w wide. Write leaves out the
	// <text> of boxes too narrow for a label; it is made here when needed.
	function place(f, x, w) {
		f.rect.setAttribute("x", x.toFixed(2));
		f.rect.setAttribute("width", w.toFixed(2));
		var l = label(f.name, w);
		if (!f.text) {
			if (l === "") {
				return;
			}
			var y = Number(f.rect.getAttribute("y")) + Number(f.rect.getAttribute("height")) / 2 + fontSize / 3;
			f.text = document.createElementNS("http://www.w3.org/2000/svg", "text");
			f.text.setAttribute("y", y.toFixed(1));
			f.g.appendChild(f.text);
		}
		f.text.setAttribute("x", (x + 3).toFixed(2));
		f.text.textContent = l;
	}

	// zoom makes frame i fill the width: its subtree scales with it, its
	// ancestors stay visible (dimmed) at full width, everything else hides.
	function zoom(i) {
		var z = frames[i];
		if (z.parent < 0) {
			unzoom();
			return;
		}
		if (!(z.w > 0)) {
			return; // drawn with Options.MinWidth < 0, too narrow to scale
		}
		var full = width - 2 * xpad;
		var scale = full / z.w;
		var ancestor = {};
		for (var a = i; a >= 0; a = frames[a].parent) {
			ancestor[a] = true;
		}
		for (var j = 0; j < frames.length; j++) {
			var f = frames[j];
			if (ancestor[j]) {
				f.g.classList.remove("hide");
				f.g.classList.toggle("parent", j !== i);
				place(f, xpad, full);
			} else if (j > i && j < z.end) {
				f.g.classList.remove("hide", "parent");
				place(f, xpad + (f.x - z.x) * scale, f.w * scale);
			} else {
				f.g.classList.add("hide");
			}
		}
		unzoomEl.classList.remove("hide");
	}

	function unzoom() {
		for (var j = 0; j < frames.length; j++) {
			var f = frames[j];
			f.g.classList.remove("hide", "parent");
			place(f, f.x, f.w);
		}
		unzoomEl.classList.add("hide");
	}

	function searchPrompt() {
		var term = window.prompt("Search frames (regular expression):", lastTerm);
		if (term !== null && term !== "") {
			search(term);
		}
	}

	// search colours the frames whose name matches term and shows the
	// share of the total they hold (a match inside a match counts once).
	function search(term) {
		var re;
		try {
			re = new RegExp(term);
		} catch (err) {
			window.alert("Bad regular expression: " + err.message);
			return;
		}
		lastTerm = term;
		var sum = 0;
		var coveredTo = -1;
		for (var j = 0; j < frames.length; j++) {
			var f = frames[j];
			if (re.test(f.name)) {
				f.rect.setAttribute("fill", searchFill);
				if (j >= coveredTo) {
					sum += f.count;
					coveredTo = f.end;
				}
			} else {
				f.rect.setAttribute("fill", f.fill);
			}
		}
		searching = true;
		searchEl.textContent = "Reset Search";
		var pct = total > 0 ? 100 * sum / total : 0;
		matchedEl.textContent = "Matched: " + pct.toFixed(2) + "%";
		matchedEl.classList.remove("hide");
	}

	function resetSearch() {
		for (var j = 0; j < frames.length; j++) {
			frames[j].rect.setAttribute("fill", frames[j].fill);
		}
		searching = false;
		searchEl.textContent = "Search";
		matchedEl.classList.add("hide");
	}

	init();
})();
