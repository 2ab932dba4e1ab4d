// walks: draws a planned walk with Leaflet from the JSON data element of the page.
// Every text of the data (OSM names, reasons, titles) is set with textContent, never parsed
// as HTML, and the page has no template engine behind it: data stays data.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("walks-data").textContent);

  function el(tag, className, text, parent) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (parent) { parent.appendChild(node); }
    return node;
  }

  // Leaflet's layer control shows its labels as HTML: give it escaped text.
  function escaped(text) {
    var span = document.createElement("span");
    span.textContent = String(text);
    return span.innerHTML;
  }

  function row(parent, label, value) {
    var div = el("div", null, null, parent);
    if (label) { el("b", null, label + " ", div); }
    div.appendChild(document.createTextNode(value));
    return div;
  }

  function pin(text, color, extra) {
    var div = el("div", "walks-pin" + (extra ? " " + extra : ""), text);
    div.style.background = color;
    return L.divIcon({html: div, iconSize: [30, 30], iconAnchor: [15, 15], className: "walks-icon"});
  }

  function arrow(bearing) {
    var div = el("div", "walks-arrow", "\u27A4");
    div.style.transform = "rotate(" + (bearing - 90) + "deg)";
    return L.divIcon({html: div, iconSize: [14, 14], iconAnchor: [7, 7], className: "walks-icon"});
  }

  var map = L.map("walks-map", {zoomControl: true});
  var overlays = {};
  // The attribution is our own constant (see webmap.py), never OSM text.
  L.tileLayer(data.tiles.url, {maxZoom: 19, attribution: data.tiles.attribution}).addTo(map);
  L.control.scale().addTo(map);

  data.routes.forEach(function (route, index) {
    var group = L.featureGroup();
    L.polyline(route.coords, {
      color: route.color, weight: index === 0 ? 5 : 4, opacity: 0.85,
      dashArray: index === 0 ? null : "8 6", className: "walks-route-" + index
    }).addTo(group);
    route.arrows.forEach(function (a) {
      L.marker([a[0], a[1]], {icon: arrow(a[2]), interactive: false, keyboard: false}).addTo(group);
    });
    if (index === 0) { group.addTo(map); }
    overlays[index === 0 ? "Route" : "Alternative " + (index + 1)] = group;
  });

  function popup(marker, build) {
    var box = el("div", "walks-popup");
    build(box);
    marker.bindPopup(box, {maxWidth: 320});
  }

  var ends = L.featureGroup().addTo(map);
  var start = L.marker(data.start, {icon: pin(data.loop ? "S/F" : "S", "#222", "walks-end")});
  popup(start, function (box) { el("b", null, data.loop ? "Start and finish" : "Start", box); });
  start.addTo(ends);
  if (!data.loop) {
    var finish = L.marker(data.finish, {icon: pin("F", "#222", "walks-end")});
    popup(finish, function (box) {
      el("b", null, "Finish", box);
      el("div", null, data.summary.length_km + " km", box);
    });
    finish.addTo(ends);
  }
  overlays["Start and finish"] = ends;

  var groups = {};
  data.stops.forEach(function (stop) {
    if (!groups[stop.category]) {
      groups[stop.category] = L.featureGroup().addTo(map);
      overlays[escaped("Stops: " + stop.category + " (" + stop.category_label + ")")] =
        groups[stop.category];
    }
    var marker = L.marker([stop.lat, stop.lon], {icon: pin(String(stop.n), stop.color)});
    popup(marker, function (box) {
      el("div", "cat", (stop.emoji ? stop.emoji + " " : "") + stop.category, box);
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
    });
    marker.addTo(groups[stop.category]);
  });

  if (data.sightlines.length || data.landmarks.length) {
    var sights = L.featureGroup().addTo(map);
    data.sightlines.forEach(function (line) {
      L.polyline(line, {color: "#e6a100", weight: 2, dashArray: "4 6",
                        className: "walks-sightline"}).addTo(sights);
    });
    data.landmarks.forEach(function (mark) {
      var marker = L.marker([mark.lat, mark.lon], {icon: pin("\u2605", "#e6a100")});
      popup(marker, function (box) {
        el("b", null, mark.name, box);
        el("div", null, "the landmark", box);
      });
      marker.addTo(sights);
    });
    overlays["Sight lines"] = sights;
  }

  var summary = L.control({position: "bottomleft"});
  summary.onAdd = function () {
    var s = data.summary;
    var div = el("div", "walks-summary");
    el("h3", null, data.title, div);
    el("div", null, s.length_km + " km \u00B7 walking " + s.walking + " \u00B7 total " + s.total +
       " with " + s.stops + " stop(s)", div);
    el("div", null, "Pleasant streets: " + s.pleasant_pct + " % \u00B7 retraced: " +
       s.retraced_pct + " %", div);
    if (s.climb_m !== null) { el("div", null, "Climb: " + s.climb_m + " m", div); }
    if (s.departure !== null) { el("div", null, "Departure " + s.departure, div); }
    (s.warnings || []).forEach(function (w) { el("div", "walks-warning", "\u26A0 " + w, div); });
    el("div", "walks-credit", s.attribution, div);
    L.DomEvent.disableClickPropagation(div);
    return div;
  };
  summary.addTo(map);

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

  L.control.layers(null, overlays, {collapsed: true}).addTo(map);
  map.fitBounds(data.bounds, {padding: [20, 20]});
}());
