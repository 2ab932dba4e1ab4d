// walks: draws planned walks with Leaflet from the JSON data element of the page.
// Every text of the data (OSM names, reasons, titles) is set with textContent, never parsed as
// HTML (Leaflet's layer control, which does parse its labels, gets them escaped), and the page
// has no template engine behind it: data stays data. Nothing here needs the network: the base
// map is drawn from the OSM data embedded in the page; tiles are an option for when online.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("walks-data").textContent);
  var phone = window.matchMedia("(max-width: 600px)").matches;

  function el(tag, className, text, parent) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function escaped(text) {
    var span = document.createElement("span");
    span.textContent = String(text);
    return span.innerHTML;
  }

  function row(parent, label, value) {
    var div = el("div", null, null, parent);
    el("b", null, label + " ", div);
    div.appendChild(document.createTextNode(value));
    return div;
  }

  function pin(text, color, extra, shift) {
    var div = el("div", "walks-pin" + (extra ? " " + extra : ""), text);
    div.style.background = color;
    var dx = shift ? shift[0] : 0, dy = shift ? shift[1] : 0;
    return L.divIcon({html: div, iconSize: [34, 34], iconAnchor: [17 - dx, 17 - dy],
                      popupAnchor: [dx, dy - 14], className: "walks-icon"});
  }

  function arrow(bearing) {
    var div = el("div", "walks-arrow", "\u27A4");
    div.style.transform = "rotate(" + (bearing - 90) + "deg)";
    return L.divIcon({html: div, iconSize: [14, 14], iconAnchor: [7, 7], className: "walks-icon"});
  }

  var map = L.map("walks-map", {zoomControl: true, zoomSnap: 0.25, zoomDelta: 0.5});
  window.walksMap = map;
  var stats = {streets: 0, buildings: 0, labels: 0};
  window.walksStats = stats;

  // ---------------------------------------------------------------- the base map
  var base = L.layerGroup();
  var labels = L.layerGroup();
  if (data.basemap) {
    var bm = data.basemap, o = bm.origin, s = bm.scale;
    var decode = function (flat, from) {
      var out = [], y = 0, x = 0;
      for (var i = from; i + 1 < flat.length; i += 2) {
        y += flat[i]; x += flat[i + 1];
        out.push([o[0] + y * s, o[1] + x * s]);
      }
      return out;
    };
    var canvas = L.canvas({padding: 0.5});
    var covers = {
      wood: {fillColor: "#add19e", color: "#9cc28c"},
      park: {fillColor: "#c8facc", color: "#b5e3b8"},
      water: {fillColor: "#aad3df", color: "#8fbfcd"},
      pedestrian: {fillColor: "#dddde8", color: "#c4bfd9"}
    };
    (bm.cover || []).forEach(function (shape) {
      var kind = bm.cover_kinds[shape[0]];
      if (kind === "rail") {
        L.polyline(decode(shape, 1), {renderer: canvas, color: "#8a8a8a", weight: 2,
                                      dashArray: "6 4", interactive: false}).addTo(base);
      } else {
        var style = covers[kind];
        L.polygon(decode(shape, 1), {renderer: canvas, stroke: true, weight: 0.5,
                                     color: style.color, fillColor: style.fillColor,
                                     fillOpacity: 1, interactive: false}).addTo(base);
      }
      stats.cover = (stats.cover || 0) + 1;
    });
    bm.buildings.forEach(function (ring) {
      L.polygon(decode(ring, 0), {renderer: canvas, stroke: true, weight: 0.5, color: "#b9aea4",
                                  fillColor: "#d9d0c9", fillOpacity: 1, interactive: false})
        .addTo(base);
      stats.buildings += 1;
    });
    var styles = {
      major: [{color: "#c9a26b", weight: 8}, {color: "#fcd6a4", weight: 6}],
      minor: [{color: "#cfc8c0", weight: 6}, {color: "#ffffff", weight: 4.5}],
      pedestrian: [{color: "#c4bfd9", weight: 6}, {color: "#e6e3f2", weight: 4.5}],
      path: [{color: "#e08a6e", weight: 1.6, dashArray: "3 3"}],
      steps: [{color: "#c0392b", weight: 3, dashArray: "1.5 2.5"}]
    };
    // casings first, then fills, so crossings look joined
    [0, 1].forEach(function (pass) {
      bm.streets.forEach(function (line) {
        var style = styles[bm.classes[line[0]]][pass];
        if (!style) { return; }
        L.polyline(decode(line, 1), {renderer: canvas, color: style.color, weight: style.weight,
                                     dashArray: style.dashArray || null, interactive: false,
                                     lineCap: "round", lineJoin: "round"}).addTo(base);
        if (pass === 0) { stats.streets += 1; }
      });
    });
    bm.labels.forEach(function (label) {
      var span = el("span", null, label[3]);
      span.style.transform = "translate(-50%, -50%) rotate(" + label[2] + "deg)";
      L.marker([label[0], label[1]], {
        icon: L.divIcon({html: span, className: "walks-label", iconSize: [0, 0]}),
        interactive: false, keyboard: false
      }).addTo(labels);
      stats.labels += 1;
    });
  }
  var tiles = L.tileLayer(data.tiles.url, {maxZoom: 19, attribution: data.tiles.attribution});
  if (data.basemap) {
    base.addTo(map);
    map.getContainer().classList.add("walks-drawn");
  }
  var baseLayers = {};
  baseLayers[data.basemap ? "Map drawn from the OSM data" : "No base map"] = base;
  baseLayers["OpenStreetMap tiles (needs network)"] = tiles;
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution(data.tiles.attribution);
  var showLabels = function () {
    var near = map.getZoom() >= 16;
    if (near && map.hasLayer(base)) { labels.addTo(map); } else { labels.remove(); }
    map.getContainer().classList.toggle("walks-far", !near);
  };
  map.on("zoomend baselayerchange", showLabels);

  // ---------------------------------------------------------------- the walks
  var overlays = {};
  var walkLayers = data.walks.map(function (walk, index) {
    var route = L.featureGroup();
    L.polyline(walk.coords, {
      color: walk.color, weight: index === 0 ? 5 : 4, opacity: 0.9,
      dashArray: index === 0 ? null : "8 6", className: "walks-route-" + index
    }).addTo(route);
    walk.arrows.forEach(function (a) {
      L.marker([a[0], a[1]], {icon: arrow(a[2]), interactive: false, keyboard: false})
        .addTo(route);
    });
    overlays[escaped(walk.name)] = route;
    return {route: route, details: null, markers: []};
  });

  function popupBox(build) {
    var box = el("div", "walks-popup");
    build(box);
    return box;
  }

  function details(walk, index) {
    var group = L.featureGroup();
    var layer = walkLayers[index];
    var start = L.marker(walk.start, {icon: pin(walk.loop ? "S/F" : "S", "#222", "walks-end")});
    start.bindPopup(popupBox(function (box) {
      el("b", null, walk.loop ? "Start and finish" : "Start", box);
    }));
    start.addTo(group);
    if (!walk.loop) {
      var finish = L.marker(walk.finish, {icon: pin("F", "#222", "walks-end")});
      finish.bindPopup(popupBox(function (box) {
        el("b", null, "Finish", box);
        el("div", null, walk.summary.length_km + " km", box);
      }));
      finish.addTo(group);
    }
    layer.markers = walk.stops.map(function (stop) {
      var marker = L.marker([stop.lat, stop.lon], {
        icon: pin(String(stop.n), stop.color, null, stop.shift), title: stop.name, riseOnHover: true
      });
      marker.bindPopup(popupBox(function (box) {
        el("div", "cat", (stop.emoji ? stop.emoji + " " : "") + stop.category, box);
        el("div", "walks-small", stop.category_label, box);
        el("h4", null, stop.n + ". " + stop.name, box);
        el("div", null, stop.reason, box);
        row(box, "Arrival:", stop.arrival);
        row(box, "Opening:", stop.opening);
        if (stop.osm_url) {
          var a = el("a", null, "on OpenStreetMap", el("div", null, null, box));
          a.href = stop.osm_url;
          a.target = "_blank";
          a.rel = "noopener";
        }
      }), {maxWidth: 300, autoPanPadding: [20, 60]});
      marker.addTo(group);
      var name = el("span", null, stop.name);
      L.marker([stop.lat, stop.lon], {
        icon: L.divIcon({html: name, className: "walks-stop-name", iconSize: [0, 0],
                         iconAnchor: [-20 - (stop.shift ? stop.shift[0] : 0), 8]}),
        interactive: false, keyboard: false
      }).addTo(group);
      return marker;
    });
    walk.sightlines.forEach(function (line) {
      L.polyline(line, {color: "#e6a100", weight: 2, dashArray: "4 6",
                        className: "walks-sightline"}).addTo(group);
    });
    walk.landmarks.forEach(function (mark) {
      var marker = L.marker([mark.lat, mark.lon], {icon: pin("\u2605", "#e6a100", null, mark.shift)});
      marker.bindPopup(popupBox(function (box) {
        el("b", null, mark.name, box);
        el("div", null, "the landmark", box);
      }));
      marker.addTo(group);
    });
    return group;
  }

  // ---------------------------------------------------------------- the panel
  var panel = L.control({position: "topright"});
  var panelBody, tabs, content;
  var active = -1;

  function profile(parent, points) {
    var ns = "http://www.w3.org/2000/svg";
    var width = 260, height = 60;
    var maxD = points[points.length - 1][0] || 1;
    var lo = Infinity, hi = -Infinity;
    points.forEach(function (p) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); });
    var span = Math.max(hi - lo, 10);
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("class", "walks-profile");
    var line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", points.map(function (p) {
      return (p[0] / maxD * width).toFixed(1) + "," +
        (height - 4 - (p[1] - lo) / span * (height - 8)).toFixed(1);
    }).join(" "));
    svg.appendChild(line);
    var box = el("div", "walks-profile-box", null, parent);
    el("div", "walks-small", "Elevation " + Math.round(lo) + "\u2013" + Math.round(hi) + " m", box);
    box.appendChild(svg);
  }

  function select(index) {
    if (index === active) { return; }
    if (active >= 0 && walkLayers[active].details) { walkLayers[active].details.remove(); }
    active = index;
    var walk = data.walks[index];
    var layer = walkLayers[index];
    if (!map.hasLayer(layer.route)) { layer.route.addTo(map); }
    if (!layer.details) { layer.details = details(walk, index); }
    layer.details.addTo(map);
    layer.route.bringToFront();
    Array.prototype.forEach.call(tabs.children, function (tab, i) {
      tab.classList.toggle("walks-tab-active", i === index);
    });
    content.textContent = "";
    var s = walk.summary;
    el("div", null, s.length_km + " km \u00B7 walking " + s.walking + " \u00B7 total " + s.total +
       " with " + s.stops + " stop(s)", content);
    el("div", null, "Pleasant streets: " + s.pleasant_pct + " % \u00B7 retraced: " +
       s.retraced_pct + " %", content);
    if (s.climb_m !== null) {
      el("div", null, "Climb " + s.climb_m + " m" +
         (s.descent_m !== null ? " \u00B7 descent " + s.descent_m + " m" : ""), content);
    }
    if (s.departure !== null) { el("div", null, "Departure " + s.departure, content); }
    (s.warnings || []).forEach(function (w) { el("div", "walks-warning", "\u26A0 " + w, content); });
    if (walk.profile) { profile(content, walk.profile); }
    var list = el("ol", "walks-itinerary", null, content);
    walk.stops.forEach(function (stop, i) {
      var item = el("li", null, null, list);
      var button = el("button", "walks-stop", null, item);
      button.type = "button";
      el("span", "walks-stop-title", stop.n + ". " + stop.name, button);
      el("span", "walks-small", stop.arrival + " \u00B7 " + stop.leg_km + " km from the " +
         (i === 0 ? "start" : "previous stop") + " \u00B7 " + stop.opening, button);
      el("span", "walks-small walks-reason", stop.reason, button);
      L.DomEvent.on(button, "click", function () {
        if (phone) { setOpen(false); }
        map.flyTo([stop.lat, stop.lon], Math.max(map.getZoom(), 17), {duration: 0.5});
        map.once("moveend", function () { layer.markers[i].openPopup(); });
      });
    });
    el("div", "walks-credit", s.attribution, content);
  }

  function setOpen(open) {
    panelBody.classList.toggle("walks-closed", !open);
    toggle.textContent = open ? "\u25B4" : "\u25BE";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  var toggle;
  panel.onAdd = function () {
    var div = el("div", "walks-summary");
    var head = el("div", "walks-head", null, div);
    el("h3", null, data.title, head);
    toggle = el("button", "walks-toggle", null, head);
    toggle.type = "button";
    toggle.title = "Show or hide the itinerary";
    panelBody = el("div", "walks-body", null, div);
    tabs = el("div", "walks-tabs", null, panelBody);
    if (data.walks.length < 2) { tabs.style.display = "none"; }
    data.walks.forEach(function (walk, index) {
      var tab = el("button", "walks-tab", walk.name, tabs);
      tab.type = "button";
      tab.style.borderColor = walk.color;
      L.DomEvent.on(tab, "click", function () { select(index); });
    });
    content = el("div", "walks-content", null, panelBody);
    L.DomEvent.on(toggle, "click", function () {
      setOpen(panelBody.classList.contains("walks-closed"));
    });
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    return div;
  };
  panel.addTo(map);
  setOpen(!phone);

  // ---------------------------------------------------------------- controls
  var Locate = L.Control.extend({onAdd: function (m) {
    var a = el("a", "walks-locate leaflet-bar", "\u25CE");
    a.href = "#";
    a.title = "Show where I am";
    a.setAttribute("role", "button");
    L.DomEvent.on(a, "click", function (e) {
      L.DomEvent.preventDefault(e);
      m.locate({setView: true, maxZoom: 17});
    });
    return a;
  }});
  new Locate({position: "topleft"}).addTo(map);
  map.on("locationfound", function (e) {
    L.circle(e.latlng, {radius: e.accuracy, color: "#2b8cbe"}).addTo(map);
  });
  L.control.scale({position: "bottomleft"}).addTo(map);
  L.control.layers(baseLayers, overlays, {collapsed: true, position: "topleft"}).addTo(map);

  walkLayers.forEach(function (layer) { layer.route.addTo(map); });
  select(0);
  // the whole walk in view, clear of the controls (and, on a wide screen, of the open panel)
  var pad = phone ? 24 : 40;
  map.fitBounds(data.bounds, {paddingTopLeft: [pad + 30, pad],
                              paddingBottomRight: [pad + (phone ? 0 : 320), pad + 20],
                              maxZoom: 18});
  showLabels();
  document.documentElement.setAttribute("data-walks-ready", "1");
}());
