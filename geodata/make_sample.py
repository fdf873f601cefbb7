"""Write the embedded sample geodata set to ``geodata/sample/`` (deterministic and seeded).

What is made, and from what:

* ``jurisdictions.geojson``: US Census Bureau 2016 cartographic boundary counties (1:500k,
  public domain) from the ``plotly-geo==1.0.0`` PyPI package (``_plotly_geo/package_data``),
  all counties of the twelve states the corridors cross. The counties are simplified together
  as one coverage (``shapely.coverage_simplify``: neighbours keep identical shared edges) and
  rounded to 5 decimals; each state is the coverage union of its simplified counties, so state
  and county edges coincide exactly. NAD83 is taken as EPSG:4326 (about a metre apart).
  Permit costs of a handful of rows and the one forbidden county are hand-picked.
* ``corridors.geojson``: hand-typed approximate coordinates of real towns along real
  interstate, rail and power-line alignments. Each alignment is densified to a vertex every
  ~4 km, given a smooth seeded lateral wiggle of a few hundred metres that is zero at every
  waypoint, and split into one row per waypoint pair, so alignments meet exactly at shared
  towns or cross. Four power lines stop 120-220 m short of a town on purpose. Existing-fiber
  rows are PoP-to-PoP spans on their host highway's or railway's geometry plus a small extra
  wiggle; a span and the host rows it runs in share a trench SRLG id, river bridges add a
  bridge id. Costs per km are seeded draws in per-kind ranges, higher next to metros.
* ``sites.geojson``, ``exclusions.geojson``: hand-typed approximate coordinates of metro
  datacenter areas, carrier PoPs and two military reservations.
* ``areas.geojson``: two hand-drawn named areas: the New Madrid Seismic Zone, where building
  costs 1.5 times as much (a soft penalty), and a flood plain a demand can avoid by its id.

Run ``.venv/bin/python geodata/make_sample.py``; a second run writes byte-identical files.
"""

from __future__ import annotations

import itertools
import json
import math
import zlib
from importlib.resources import files
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

_OUT_DIR = Path(__file__).resolve().parent / "sample"
_CENSUS_DIR = Path(str(files("_plotly_geo") / "package_data"))
_SEED = 20_240_611
_DECIMALS = 5
_SPACING_KM = 4.0
_WIGGLE_WAVELENGTH_KM = 30.0
_KM_PER_DEG_LAT = 110.574
_KM_PER_DEG_LON_AT_EQUATOR = 111.320
_SIMPLIFY_TOLERANCE_DEG = 0.0075
_WIGGLE_KM = {"highway": (0.15, 0.4), "rail": (0.2, 0.5), "utility": (0.05, 0.15)}
_FIBER_EXTRA_WIGGLE_KM = (0.02, 0.06)
# (rural, metro) ranges of cost_per_km in currency per km, per corridor kind.
_COST_PER_KM = {
    "existing_fiber": ((6_000, 11_000), (11_000, 15_000)),
    "rail": ((35_000, 48_000), (48_000, 60_000)),
    "highway": ((50_000, 72_000), (72_000, 90_000)),
    "utility": ((40_000, 55_000), (55_000, 70_000)),
}
_STATE_FIPS = ("01", "05", "13", "17", "18", "20", "21", "28", "29", "40", "47", "48")
_PERMIT_COST = {"17031": 25e3, "48113": 18e3, "13121": 20e3, "29510": 15e3, "47037": 12e3, "48": 2.5e3}
_FORBIDDEN = frozenset({"05123"})  # St. Francis County, AR: crossed by I-40 and its cheap fiber

# fmt: off
# "Town lat lon;" entries: hand-typed approximate town centres or interchanges.
_PLACES_TEXT = """
Chicago 41.878 -87.635; Rosemont 41.995 -87.870; Schaumburg 42.033 -88.083; Elgin 42.037 -88.281;
Itasca 41.975 -88.020; Lombard 41.880 -88.008; Hodgkins 41.769 -87.858; Alsip 41.669 -87.739;
Hammond 41.583 -87.500; Gary 41.593 -87.346; Bolingbrook 41.699 -88.068; Channahon 41.429 -88.229;
Braidwood 41.265 -88.212; Dwight 41.094 -88.425; Odell 41.003 -88.524; Pontiac 40.881 -88.630;
Chenoa 40.742 -88.720; Bloomington 40.484 -88.994; Atlanta IL 40.260 -89.231; Lincoln IL 40.148 -89.365;
Williamsville 39.954 -89.549; Springfield IL 39.781 -89.650; Litchfield 39.175 -89.654;
Troy IL 38.729 -89.883; East St. Louis 38.625 -90.151; St. Louis 38.627 -90.199; Summit 41.788 -87.810;
Joliet 41.525 -88.082; McLean 40.315 -89.172; Carlinville 39.280 -89.882; Alton 38.891 -90.184;
Granite City 38.701 -90.149; Markham 41.594 -87.695; Peotone 41.332 -87.785; Kankakee 41.120 -87.861;
Gilman 40.767 -87.992; Paxton 40.460 -88.095; Champaign 40.116 -88.243; Tuscola 39.799 -88.283;
Mattoon 39.483 -88.373; Effingham 39.120 -88.543; Salem IL 38.627 -88.946; Mount Vernon IL 38.317 -88.903;
Marion IL 37.731 -88.933; Cairo 37.005 -89.176; Homewood 41.557 -87.666; Edgewood 38.923 -88.662;
Centralia 38.525 -89.133; Carbondale 37.727 -89.217; Highland 38.739 -89.671; Vandalia 38.961 -89.094;
Marshall IL 39.391 -87.694; Hillsboro IL 39.161 -89.495; Pana 39.389 -89.080; Paris IL 39.611 -87.696;
Taylorville 39.549 -89.294; Shelbyville IL 39.406 -88.790; Metropolis 37.151 -88.732; Anna IL 37.460 -89.247;
Thebes 37.220 -89.460; Merrillville 41.483 -87.333; Lowell 41.291 -87.420; Rensselaer 40.937 -87.151;
Remington 40.761 -87.151; Lafayette IN 40.417 -86.875; Lebanon IN 40.048 -86.469; Indianapolis 39.768 -86.158;
Dyer 41.494 -87.522; Monon 40.868 -86.879; Frankfort IN 40.279 -86.511; Terre Haute 39.467 -87.414;
Brazil 39.524 -87.125; Greencastle 39.645 -86.865; Columbus IN 39.201 -85.921; Seymour 38.959 -85.890;
Scottsburg 38.686 -85.770; Jeffersonville 38.277 -85.737; Louisville 38.253 -85.759;
Elizabethtown 37.694 -85.859; Munfordville 37.272 -85.891; Bowling Green 36.990 -86.444;
Franklin KY 36.722 -86.577; Paducah 37.083 -88.600; Calvert City 37.033 -88.350; Eddyville 37.095 -88.080;
Cadiz 36.865 -87.835; Oak Grove KY 36.665 -87.443; Wickliffe 36.965 -89.089; Fulton KY 36.504 -88.874;
Clarksville TN 36.530 -87.359; Nashville 36.163 -86.781; Murfreesboro 35.846 -86.392; Smyrna 35.983 -86.518;
Manchester 35.482 -86.089; Monteagle 35.240 -85.840; Jasper TN 35.074 -85.626; Chattanooga 35.046 -85.309;
Tullahoma 35.362 -86.209; Cowan 35.165 -86.010; Memphis 35.149 -90.049; Arlington TN 35.296 -89.661;
Brownsville 35.594 -89.262; Jackson TN 35.615 -88.814; Parkers Crossroads 35.787 -88.392;
Hurricane Mills 35.960 -87.771; Dickson 36.077 -87.388; Covington 35.564 -89.646; Dyersburg 36.034 -89.386;
Newbern 36.113 -89.262; Union City 36.424 -89.057; Collierville 35.042 -89.664; Somerville 35.244 -89.350;
Bolivar TN 35.256 -88.988; Henderson TN 35.440 -88.641; Linden TN 35.617 -87.839;
Centerville TN 35.779 -87.467; Franklin TN 35.925 -86.869; Brentwood 36.033 -86.783;
Spring Hill 35.751 -86.930; Columbia TN 35.615 -87.035; Lynnville 35.378 -87.005; Pulaski 35.199 -87.031;
Ardmore AL 34.992 -86.847; Athens AL 34.803 -86.972; Hartselle 34.443 -86.935; Decatur AL 34.606 -86.983;
Cullman 34.175 -86.844; Warrior 33.814 -86.809; Birmingham 33.519 -86.810; Jasper AL 33.831 -87.277;
Hamilton AL 34.142 -87.988; Winfield AL 33.929 -87.817; Carbon Hill 33.891 -87.526; Graysville 33.621 -86.971;
Leeds 33.548 -86.544; Irondale 33.538 -86.707; Pell City 33.586 -86.286; Anniston 33.660 -85.831;
Oxford AL 33.614 -85.835; Heflin 33.649 -85.587; Sylacauga 33.173 -86.251; Wedowee 33.309 -85.485;
Stevenson 34.869 -85.839; Bridgeport 34.947 -85.714; Tallapoosa 33.745 -85.288; Bremen 33.721 -85.146;
Villa Rica 33.732 -84.919; Douglasville 33.751 -84.747; Austell 33.813 -84.634; Atlanta 33.749 -84.388;
Carrollton GA 33.580 -85.077; Marietta 33.953 -84.550; Cartersville 34.165 -84.800; Calhoun 34.503 -84.951;
Dalton 34.770 -84.970; Ringgold 34.916 -85.109; LaFayette GA 34.705 -85.282; Summerville 34.481 -85.348;
Rome 34.257 -85.165; Rockmart 34.003 -85.042; Olive Branch 34.962 -89.830; Byhalia 34.872 -89.690;
Holly Springs 34.768 -89.449; Potts Camp 34.645 -89.305; New Albany 34.494 -89.008; Tupelo 34.258 -88.703;
Fulton MS 34.274 -88.409; Amory 33.984 -88.488; West Memphis 35.146 -90.185; Marion AR 35.214 -90.196;
Turrell 35.380 -90.258; Osceola AR 35.705 -89.969; Blytheville 35.927 -89.919; Forrest City 35.008 -90.790;
Brinkley 34.888 -91.194; Hazen 34.781 -91.581; Lonoke 34.784 -91.900; Wynne 35.225 -90.787;
McCrory 35.257 -91.200; North Little Rock 34.769 -92.267; Little Rock 34.746 -92.290; Conway 35.089 -92.442;
Russellville 35.278 -93.134; Clarksville AR 35.471 -93.466; Ozark AR 35.487 -93.828; Alma 35.478 -94.222;
Bryant 34.596 -92.489; Benton 34.565 -92.587; Malvern 34.362 -92.813; Caddo Valley 34.193 -93.065;
Arkadelphia 34.121 -93.054; Gurdon 33.920 -93.154; Prescott 33.803 -93.381; Hope 33.667 -93.592;
Fulton AR 33.611 -93.813; Texarkana 33.425 -94.048; Walnut Ridge 36.068 -90.956; Newport AR 35.607 -91.282;
Bald Knob 35.310 -91.568; Beebe 35.071 -91.880; Dallas 32.777 -96.797; Richardson 32.948 -96.730;
Plano 33.020 -96.699; Allen 33.103 -96.671; McKinney 33.198 -96.615; Anna TX 33.349 -96.549;
Van Alstyne 33.421 -96.577; Sherman 33.636 -96.609; Denison 33.755 -96.537; Whitesboro 33.656 -96.906;
Denton 33.215 -97.133; Carrollton TX 32.975 -96.890; Farmers Branch 32.926 -96.896; Lewisville 33.046 -96.994;
Valley View 33.487 -97.166; Gainesville 33.626 -97.133; New Boston 33.460 -94.415;
Mount Pleasant 33.157 -94.968; Sulphur Springs 33.138 -95.601; Greenville TX 33.138 -96.111;
Rockwall 32.931 -96.459; Rowlett 32.885 -96.560; Clarksville TX 33.611 -95.053; Paris TX 33.661 -95.556;
Commerce 33.247 -95.900; Garland 32.913 -96.639; Far North Dallas 33.000 -96.770;
North Garland 32.955 -96.610; Terrell 32.736 -96.275; Wills Point 32.709 -96.008; Canton TX 32.556 -95.863;
Tyler 32.351 -95.301; Longview 32.500 -94.740; Jefferson TX 32.757 -94.345; Atlanta TX 33.114 -94.164;
Marietta OK 33.937 -97.117; Ardmore OK 34.174 -97.144; Davis 34.504 -97.120; Pauls Valley 34.740 -97.222;
Purcell 35.014 -97.361; Norman 35.223 -97.439; Oklahoma City 35.468 -97.516; Edmond 35.653 -97.478;
Guthrie 35.879 -97.425; Perry 36.289 -97.288; Tonkawa 36.678 -97.310; Blackwell 36.805 -97.283;
Durant 33.994 -96.371; Colbert 33.853 -96.502; Atoka 34.386 -96.128; Coalgate 34.538 -96.218;
Calvin 34.967 -96.250; Henryetta 35.440 -95.982; Okmulgee 35.623 -95.960; Tulsa 36.154 -95.993;
Sapulpa 35.999 -96.114; Bristow 35.831 -96.391; Stroud 35.749 -96.658; Chandler 35.702 -96.881;
Wellston 35.691 -97.069; Catoosa 36.189 -95.746; Claremore 36.313 -95.616; Big Cabin 36.538 -95.222;
Vinita 36.639 -95.154; Afton 36.694 -94.963; Miami OK 36.874 -94.877; Wagoner 35.960 -95.369;
Muskogee 35.748 -95.370; Checotah 35.470 -95.523; Eufaula 35.287 -95.583; McAlester 34.933 -95.770;
Stringtown 34.466 -96.053; Sallisaw 35.460 -94.787; Okemah 35.433 -96.305; Shawnee 35.327 -96.925;
Luther 35.661 -97.196; Cushing 35.985 -96.767; Drumright 35.988 -96.601; Sand Springs 36.140 -96.109;
Chetopa 37.037 -95.090; Parsons 37.340 -95.261; Chanute 37.679 -95.458; Garnett 38.281 -95.242;
Paola 38.572 -94.879; Olathe 38.881 -94.819; Lenexa 38.954 -94.734; Ottawa KS 38.616 -95.268;
Emporia 38.404 -96.181; El Dorado KS 37.817 -96.862; Wichita 37.687 -97.330; Wellington KS 37.265 -97.372;
Kansas City 39.100 -94.579; Independence 39.091 -94.416; Oak Grove MO 39.005 -94.129;
Concordia 38.983 -93.568; Boonville 38.974 -92.743; Columbia MO 38.952 -92.334; Kingdom City 38.949 -91.938;
Warrenton 38.811 -91.141; Wentzville 38.811 -90.853; St. Charles 38.788 -90.497; Lee's Summit 38.911 -94.382;
Warrensburg 38.763 -93.736; Sedalia 38.705 -93.228; Tipton 38.655 -92.780; California MO 38.628 -92.566;
Jefferson City 38.577 -92.173; Hermann 38.704 -91.437; Washington MO 38.558 -91.012; Kirkwood 38.583 -90.407;
Eureka 38.503 -90.628; Pacific 38.482 -90.741; St. Clair 38.345 -90.981; Sullivan 38.208 -91.160;
Cuba 38.063 -91.404; Rolla 37.951 -91.771; St. Robert 37.828 -92.178; Lebanon MO 37.681 -92.664;
Marshfield 37.339 -92.907; Springfield MO 37.209 -93.292; Mount Vernon MO 37.104 -93.818;
Joplin 37.084 -94.513; Newburg 37.912 -91.901; Dixon 37.995 -92.094; Richland MO 37.857 -92.404;
Niangua 37.388 -92.836; Strafford 37.268 -93.117; Republic MO 37.120 -93.480; Monett 36.929 -93.927;
Seneca 36.841 -94.611; Harrisonville 38.653 -94.349; Clinton MO 38.369 -93.778; Osceola MO 38.047 -93.704;
Bolivar MO 37.614 -93.410; Festus 38.221 -90.396; Ste. Genevieve 37.981 -90.048; Perryville 37.724 -89.861;
Cape Girardeau 37.306 -89.518; Sikeston 36.877 -89.588; Charleston MO 36.921 -89.351; Hayti 36.234 -89.749;
De Soto 38.140 -90.555; Bismarck 37.769 -90.625; Poplar Bluff 36.757 -90.393; Scott City 37.216 -89.525;
Dexter 36.796 -89.958; Edgar Springs 37.704 -91.866; Fort Leonard Wood 37.742 -92.140;
"""
_ALIGNMENTS = {  # kind -> code -> (label, waypoints); rows are named '<label> <a>-<b>'
    "highway": {
        "I90W": ("I-90", "Chicago|Rosemont|Schaumburg|Elgin"),
        "I294": ("I-294", "Rosemont|Hodgkins|Alsip|Hammond"),
        "I355": ("I-355", "Itasca|Lombard|Bolingbrook"),
        "I90E": ("I-90 Skyway", "Chicago|Hammond|Gary"),
        "I55N": ("I-55", "Chicago|Hodgkins|Bolingbrook|Channahon|Braidwood|Dwight|Odell|Pontiac|Chenoa|"
                 "Bloomington|Atlanta IL|Lincoln IL|Williamsville|Springfield IL|Litchfield|Troy IL|"
                 "East St. Louis|St. Louis"),
        "I55S": ("I-55", "St. Louis|Festus|Ste. Genevieve|Perryville|Cape Girardeau|Sikeston|Hayti|"
                 "Blytheville|Osceola AR|Turrell|Marion AR|West Memphis"),
        "I57": ("I-57", "Chicago|Markham|Peotone|Kankakee|Gilman|Paxton|Champaign|Tuscola|Mattoon|"
                "Effingham|Salem IL|Mount Vernon IL|Marion IL|Cairo|Charleston MO|Sikeston"),
        "I65N": ("I-65", "Gary|Merrillville|Lowell|Rensselaer|Remington|Lafayette IN|Lebanon IN|"
                 "Indianapolis"),
        "I70E": ("I-70", "Indianapolis|Brazil|Terre Haute|Marshall IL|Effingham|Vandalia|Highland|Troy IL"),
        "I65S": ("I-65", "Indianapolis|Columbus IN|Seymour|Scottsburg|Jeffersonville|Louisville|"
                 "Elizabethtown|Munfordville|Bowling Green|Franklin KY|Nashville"),
        "I65A": ("I-65", "Nashville|Franklin TN|Spring Hill|Lynnville|Ardmore AL|Athens AL|Hartselle|"
                 "Cullman|Warrior|Birmingham"),
        "I24W": ("I-24", "Marion IL|Metropolis|Paducah|Calvert City|Eddyville|Cadiz|Oak Grove KY|"
                 "Clarksville TN|Nashville"),
        "I24E": ("I-24", "Nashville|Murfreesboro|Manchester|Monteagle|Jasper TN|Chattanooga"),
        "I75": ("I-75", "Chattanooga|Ringgold|Dalton|Calhoun|Cartersville|Marietta|Atlanta"),
        "I20E": ("I-20", "Birmingham|Leeds|Pell City|Oxford AL|Heflin|Tallapoosa|Villa Rica|Douglasville|"
                 "Atlanta"),
        "I22": ("I-22", "Memphis|Olive Branch|Byhalia|Holly Springs|Potts Camp|New Albany|Tupelo|Fulton MS|"
                "Hamilton AL|Jasper AL|Birmingham"),
        "I40E": ("I-40", "Memphis|Arlington TN|Brownsville|Jackson TN|Parkers Crossroads|Hurricane Mills|"
                 "Dickson|Nashville"),
        "I40W": ("I-40", "Memphis|West Memphis|Forrest City|Brinkley|Hazen|Lonoke|North Little Rock|Conway|"
                 "Russellville|Clarksville AR|Ozark AR|Alma|Sallisaw|Checotah|Henryetta|Okemah|Shawnee|"
                 "Oklahoma City"),
        "I30": ("I-30", "North Little Rock|Little Rock|Bryant|Malvern|Caddo Valley|Prescott|Hope|Texarkana|"
                "New Boston|Mount Pleasant|Sulphur Springs|Greenville TX|Rockwall|Rowlett|Dallas"),
        "I20W": ("I-20", "Dallas|Terrell|Wills Point|Canton TX|Tyler|Longview"),
        "PGBT": ("SH-190 PGBT", "Carrollton TX|Far North Dallas|North Garland|Rowlett"),
        "I35N": ("I-35", "Kansas City|Lenexa|Olathe|Ottawa KS|Emporia|El Dorado KS|Wichita|Wellington KS|"
                 "Blackwell|Tonkawa|Perry|Guthrie|Edmond|Oklahoma City"),
        "I35S": ("I-35", "Oklahoma City|Norman|Purcell|Pauls Valley|Davis|Ardmore OK|Marietta OK|"
                 "Gainesville|Valley View|Denton|Lewisville|Farmers Branch|Dallas"),
        "I44": ("I-44", "St. Louis|Eureka|Pacific|St. Clair|Sullivan|Cuba|Rolla|St. Robert|Lebanon MO|"
                "Marshfield|Springfield MO|Mount Vernon MO|Joplin|Miami OK|Vinita|Big Cabin|Claremore|"
                "Catoosa|Tulsa"),
        "I44T": ("I-44 Turner Tpk", "Tulsa|Sapulpa|Bristow|Stroud|Chandler|Wellston|Oklahoma City"),
        "I70W": ("I-70", "Kansas City|Independence|Oak Grove MO|Concordia|Boonville|Columbia MO|"
                 "Kingdom City|Warrenton|Wentzville|St. Charles|St. Louis"),
        "US75": ("US-75", "Dallas|Richardson|Plano|Allen|McKinney|Anna TX|Van Alstyne|Sherman|Denison|"
                 "Colbert|Durant|Coalgate|Calvin|Henryetta|Okmulgee|Tulsa"),
    },
    "rail": {
        "RCSL": ("UP Chicago-St. Louis", "Chicago|Summit|Joliet|Dwight|Pontiac|Bloomington|McLean|"
                 "Lincoln IL|Springfield IL|Carlinville|Alton|Granite City|St. Louis"),
        "RIC": ("CN Chicago-Memphis", "Chicago|Homewood|Kankakee|Champaign|Mattoon|Edgewood|Centralia|"
                "Carbondale|Cairo|Wickliffe|Fulton KY|Union City|Newbern|Dyersburg|Covington|Memphis"),
        "RMON": ("CSX Monon", "Hammond|Dyer|Monon|Lafayette IN|Frankfort IN|Indianapolis"),
        "RCSX": ("CSX St. Louis-Indianapolis", "Granite City|Hillsboro IL|Pana|Mattoon|Paris IL|"
                 "Terre Haute|Greencastle|Indianapolis"),
        "RMPK": ("UP Kansas City-St. Louis", "Kansas City|Lee's Summit|Warrensburg|Sedalia|Tipton|"
                 "California MO|Jefferson City|Hermann|Washington MO|Pacific"),
        "RFRI": ("BNSF St. Louis-Tulsa", "St. Louis|Kirkwood|Pacific|Sullivan|Rolla|Newburg|Dixon|"
                 "Richland MO|Lebanon MO|Niangua|Strafford|Springfield MO|Republic MO|Monett|Seneca|Afton|"
                 "Vinita|Claremore|Tulsa"),
        "RKTY": ("UP Katy", "Kansas City|Olathe|Paola|Garnett|Chanute|Parsons|Chetopa|Vinita|Wagoner|"
                 "Muskogee|Checotah|Eufaula|McAlester|Stringtown|Atoka|Durant|Denison|Whitesboro|Denton|"
                 "Carrollton TX|Dallas"),
        "RMPL": ("UP St. Louis-Texarkana", "St. Louis|De Soto|Bismarck|Poplar Bluff|Walnut Ridge|"
                 "Newport AR|Bald Knob|Beebe|Little Rock|Benton|Malvern|Arkadelphia|Gurdon|Hope|Fulton AR|"
                 "Texarkana"),
        "RTHB": ("UP Thebes", "Marion IL|Anna IL|Thebes|Scott City|Dexter|Poplar Bluff"),
        "RTP": ("UP Texarkana-Dallas", "Texarkana|Clarksville TX|Paris TX|Commerce|Greenville TX|Garland|"
                "Dallas"),
        "RMLR": ("UP Memphis-Bald Knob", "Memphis|Marion AR|Wynne|McCrory|Bald Knob"),
        "RBMB": ("BNSF Memphis-Birmingham", "Memphis|Collierville|Holly Springs|Tupelo|Amory|Winfield AL|"
                 "Carbon Hill|Graysville|Birmingham"),
        "RNBA": ("NS Birmingham-Atlanta", "Birmingham|Irondale|Pell City|Anniston|Tallapoosa|Bremen|"
                 "Austell|Atlanta"),
        "RNCA": ("NS Chattanooga-Austell", "Chattanooga|LaFayette GA|Summerville|Rome|Rockmart|Austell"),
        "RCNC": ("CSX Nashville-Chattanooga", "Nashville|Smyrna|Murfreesboro|Tullahoma|Cowan|Stevenson|"
                 "Bridgeport|Chattanooga"),
        "RCNB": ("CSX Nashville-Birmingham", "Nashville|Brentwood|Columbia TN|Pulaski|Athens AL|Decatur AL|"
                 "Cullman|Birmingham"),
    },
    "utility": {
        "USHM": ("Sho-Me 161kV", "Rolla|Edgar Springs|Fort Leonard Wood|Lebanon MO"),
        "UOGE": ("OG&E 345kV", "Oklahoma City|Luther|Cushing|Drumright|Sand Springs|Tulsa"),
        "UTVA": ("TVA 500kV", "Memphis|Somerville|Bolivar TN|Henderson TN|Linden TN|Centerville TN|"
                 "Franklin TN"),
        "UEVG": ("Evergy 345kV", "Kansas City|Harrisonville|Clinton MO|Osceola MO|Bolivar MO|Springfield MO"),
        "UAPC": ("Alabama Power 500kV", "Birmingham|Sylacauga|Wedowee|Carrollton GA|Douglasville"),
        "USWP": ("SWEPCO 345kV", "Longview|Jefferson TX|Atlanta TX|Texarkana"),
        "UAMR": ("Ameren 345kV", "Springfield IL|Taylorville|Shelbyville IL|Mattoon"),
    },
}
_ACCESS = {"I294": "endpoints", "I90E": "endpoints", "I44T": "endpoints", "RIC": "crossings",
           "UTVA": "crossings", "UAMR": "crossings"}  # others: "" (the loader's default)
# Alignment code -> (start, end) gap in metres: the line deliberately stops short of its town.
_GAPS_M = {"USHM": (150.0, 0.0), "UOGE": (0.0, 220.0), "UEVG": (0.0, 120.0), "USWP": (0.0, 180.0)}
_BRIDGES = {  # rows between these two towns cross a river bridge: its shared-risk id
    ("East St. Louis", "St. Louis"): "BR-MISSISSIPPI-STL", ("Memphis", "West Memphis"): "BR-MISSISSIPPI-MEM",
    ("Granite City", "St. Louis"): "BR-MISSISSIPPI-STL-RR", ("Memphis", "Marion AR"): "BR-MISSISSIPPI-MEM-RR",
    ("Cairo", "Charleston MO"): "BR-MISSISSIPPI-CAIRO", ("Thebes", "Scott City"): "BR-MISSISSIPPI-THEBES",
    ("Cairo", "Wickliffe"): "BR-OHIO-CAIRO-RR", ("Jeffersonville", "Louisville"): "BR-OHIO-LOU",
    ("Metropolis", "Paducah"): "BR-OHIO-PAD", ("St. Charles", "St. Louis"): "BR-MISSOURI-STC",
    ("North Little Rock", "Little Rock"): "BR-ARKANSAS-LIT", ("Beebe", "Little Rock"): "BR-ARKANSAS-LIT-RR",
    ("Sallisaw", "Checotah"): "BR-ARKANSAS-WEBBERS", ("Wagoner", "Muskogee"): "BR-ARKANSAS-MUSKOGEE-RR",
    ("Marietta OK", "Gainesville"): "BR-RED-I35", ("Colbert", "Denison"): "BR-RED-US75",
    ("Durant", "Denison"): "BR-RED-KATY", ("Parkers Crossroads", "Hurricane Mills"): "BR-TENNESSEE-I40",
    ("Calvert City", "Eddyville"): "BR-TENNESSEE-I24",
}
_CARRIERS = {"OZ": "Ozark Fiber", "PN": "Prairie Net", "LS": "Lone Star Fiber",
             "DL": "Delta Lightwave", "VF": "Volunteer Fiber", "PF": "Peach Fiber"}
_FIBERS = (  # (F<carrier><n>, trench srlg id, host alignment, access, PoP stops along the host)
    ("FOZ1", "TR-I55-CHI-STL", "I55N", "endpoints", "Chicago|Springfield IL|St. Louis"),
    ("FPN1", "TR-I55-CHI-STL", "I55N", "", "Chicago|Bloomington|St. Louis"),
    ("FOZ2", "TR-I44-STL-TUL", "I44", "endpoints", "St. Louis|Springfield MO|Tulsa"),
    ("FPN2", "TR-I44-STL-TUL", "I44", "", "St. Louis|Rolla|Springfield MO|Joplin|Tulsa"),
    ("FOZ3", "TR-I44-TUL-OKC", "I44T", "endpoints", "Tulsa|Oklahoma City"),
    ("FOZ4", "TR-I70-KC-STL", "I70W", "endpoints", "Kansas City|Columbia MO|St. Louis"),
    ("FPN3", "TR-I35-KC-OKC", "I35N", "", "Kansas City|Wichita|Oklahoma City"),
    ("FLS1", "TR-I35-OKC-DAL", "I35S", "endpoints", "Oklahoma City|Ardmore OK|Dallas"),
    ("FPN4", "TR-KATY-KC-PAR", "RKTY", "", "Kansas City|Parsons"),
    ("FLS2", "TR-KATY-MUS-DAL", "RKTY", "endpoints", "Muskogee|Denison|Dallas"),
    ("FLS3", "TR-US75-DAL-TUL", "US75", "", "Dallas|Sherman|Tulsa"),
    ("FDL1", "TR-I40-MEM-LIT", "I40W", "endpoints", "Memphis|North Little Rock"),
    ("FOZ5", "TR-I40-MEM-LIT", "I40W", "", "Memphis|Brinkley|North Little Rock"),
    ("FDL2", "TR-I40-LIT-OKC", "I40W", "endpoints", "North Little Rock|Russellville|Alma|Oklahoma City"),
    ("FDL3", "TR-I30-LIT-DAL", "I30", "endpoints", "Little Rock|Texarkana|Dallas"),
    ("FLS4", "TR-I30-LIT-DAL", "I30", "", "Texarkana|Dallas"),
    ("FDL4", "TR-MOPAC-STL-LIT", "RMPL", "", "St. Louis|Poplar Bluff|Little Rock"),
    ("FDL5", "TR-I55-STL-MEM", "I55S", "endpoints", "St. Louis|Cape Girardeau|West Memphis"),
    ("FVF1", "TR-I40-MEM-NSH", "I40E", "endpoints", "Memphis|Jackson TN|Nashville"),
    ("FVF2", "TR-I65-IND-NSH", "I65S", "", "Indianapolis|Louisville|Nashville"),
    ("FPN5", "TR-I65-IND-NSH", "I65S", "endpoints", "Indianapolis|Louisville"),
    ("FVF3", "TR-I65-NSH-BHM", "I65A", "", "Nashville|Birmingham"),
    ("FVF4", "TR-I24-NSH-CHA", "I24E", "", "Nashville|Chattanooga"),
    ("FPF1", "TR-I75-CHA-ATL", "I75", "endpoints", "Chattanooga|Atlanta"),
    ("FPF2", "TR-I20-BHM-ATL", "I20E", "", "Birmingham|Oxford AL|Atlanta"),
    ("FVF5", "TR-I20-BHM-ATL", "I20E", "endpoints", "Birmingham|Atlanta"),
    ("FDL6", "TR-I22-MEM-BHM", "I22", "", "Memphis|Tupelo|Birmingham"),
    ("FPN6", "TR-I70-IND-STL", "I70E", "", "Indianapolis|Terre Haute|Troy IL"),
    ("FPN7", "TR-I65-GARY-IND", "I65N", "", "Gary|Lafayette IN|Indianapolis"),
    ("FPN8", "TR-I90-CHI-GARY", "I90E", "endpoints", "Chicago|Gary"),
    ("FPN9", "TR-I90-CHI-ELG", "I90W", "", "Chicago|Schaumburg"),
    ("FOZ6", "TR-I90-CHI-ELG", "I90W", "endpoints", "Chicago|Rosemont"),
    ("FVF6", "TR-I24-MAR-NSH", "I24W", "", "Marion IL|Paducah|Nashville"),
)
_METROS = frozenset({
    "Chicago", "Rosemont", "Hammond", "Gary", "St. Louis", "East St. Louis", "Granite City",
    "Kansas City", "Dallas", "Atlanta", "Memphis", "West Memphis", "Nashville", "Indianapolis",
    "Oklahoma City", "Tulsa", "Birmingham", "Little Rock", "North Little Rock", "Louisville",
    "Jeffersonville", "Rowlett", "Carrollton TX",
})
_SITES = (  # (site_id, name, kind, lat, lon): approximate real datacenter areas and PoPs
    ("CHI1", "Elk Grove Village IL", "datacenter", 42.0040, -87.9720),
    ("CHI2", "Chicago 350 E Cermak Rd", "datacenter", 41.8532, -87.6186),
    ("DAL1", "Richardson TX Telecom Corridor", "datacenter", 32.9930, -96.6960),
    ("DAL2", "Dallas Infomart", "datacenter", 32.8020, -96.8200),
    ("ATL1", "Atlanta 56 Marietta St", "datacenter", 33.7557, -84.3915),
    ("ATL2", "Lithia Springs GA", "datacenter", 33.7800, -84.6400),
    ("STL1", "St. Louis 900 Walnut St", "datacenter", 38.6240, -90.1930),
    ("KCY1", "Lenexa KS", "datacenter", 38.9650, -94.7700),
    ("OKC1", "Oklahoma City", "datacenter", 35.4900, -97.5600),
    ("TUL1", "Tulsa", "datacenter", 36.1200, -95.9000),
    ("PRY1", "Pryor OK MidAmerica Industrial Park", "datacenter", 36.2360, -95.2500),
    ("MEM1", "Memphis", "datacenter", 35.0900, -89.9600),
    ("NSH1", "Nashville", "datacenter", 36.1250, -86.7000),
    ("IND1", "Indianapolis 701 W Henry St", "datacenter", 39.7600, -86.1700),
    ("LIT1", "Little Rock", "datacenter", 34.7450, -92.3500),
    ("BHM1", "Birmingham", "datacenter", 33.5000, -86.7900),
    ("SGF1", "Springfield MO carrier hotel", "pop", 37.1800, -93.3300),
    ("TXK1", "Texarkana carrier PoP", "pop", 33.4400, -94.0800),
)
_EXCLUSIONS = (  # (exclusion_id, name, ring of (lon, lat)): hand-drawn, 15-20 km across
    ("EX-FLW", "Fort Leonard Wood (US Army)",
     ((-92.205, 37.805), (-92.100, 37.812), (-92.050, 37.790), (-92.045, 37.700),
      (-92.070, 37.635), (-92.160, 37.628), (-92.215, 37.670), (-92.210, 37.750))),
    ("EX-MCAAP", "McAlester Army Ammunition Plant",
     ((-95.980, 34.890), (-95.840, 34.895), (-95.780, 34.860), (-95.790, 34.780),
      (-95.860, 34.740), (-95.970, 34.750), (-96.010, 34.820))),
)
_AREAS = (  # (area_id, name, group, cost_multiplier or None, ring of (lon, lat)): hand-drawn
    ("NMSZ", "New Madrid Seismic Zone (approximate)", "seismic", 1.5,
     ((-90.60, 35.60), (-89.40, 35.40), (-88.90, 36.20), (-89.10, 37.10), (-89.70, 37.30), (-90.40, 36.60))),
    ("OZARK-FLOOD", "South-west Missouri flood plain (illustrative)", "flood", None,
     ((-95.5, 35.5), (-93.5, 35.5), (-93.5, 38.0), (-95.5, 38.0))),
)
# fmt: on


def _parse_places(text: str) -> dict[str, tuple[float, float]]:
    """Parse "Town lat lon;" entries into {town: (lat, lon)}."""
    entries = (entry.strip().rsplit(" ", 2) for entry in text.split(";") if entry.strip())
    return {name: (float(lat), float(lon)) for name, lat, lon in entries}


_PLACES = _parse_places(_PLACES_TEXT)
Alignment = tuple[str, str, str, list[str]]  # (kind, label, access, waypoints)


def _alignments() -> dict[str, Alignment]:
    """Return every highway, rail and utility alignment by code."""
    return {
        code: (kind, label, _ACCESS.get(code, ""), route.split("|"))
        for kind, table in _ALIGNMENTS.items()
        for code, (label, route) in table.items()
    }


def _rng(*keys: object) -> np.random.Generator:
    """Return a generator seeded by the given keys, independent of build order."""
    return np.random.default_rng([_SEED, *(zlib.crc32(str(key).encode()) for key in keys)])


def _wiggle_km(t: np.ndarray, length_km: float, rng: np.random.Generator, amp_km: tuple) -> np.ndarray:
    """Return a smooth seeded lateral offset in km along t in [0, 1], zero at t = 0 and t = 1."""
    k = np.arange(1, 3 + int(length_km // _WIGGLE_WAVELENGTH_KM))
    w = np.sin(np.pi * np.outer(t, k)) @ (rng.normal(size=k.size) / k)
    return w * (rng.uniform(*amp_km) / max(float(np.abs(w).max()), 1e-12))


def _segment_lonlat(a: str, b: str, wiggles: list[tuple], gaps_km: tuple = (0.0, 0.0)) -> np.ndarray:
    """Return lon/lat vertices every ~4 km from town a to b (minus end gaps), with (rng, amp) wiggles."""
    (lat_a, lon_a), (lat_b, lon_b) = _PLACES[a], _PLACES[b]
    km_per_deg_lon = _KM_PER_DEG_LON_AT_EQUATOR * math.cos(math.radians((lat_a + lat_b) / 2))
    d = np.array([(lon_b - lon_a) * km_per_deg_lon, (lat_b - lat_a) * _KM_PER_DEG_LAT])
    length_km = float(np.hypot(*d))
    t = np.linspace(
        gaps_km[0] / length_km, 1 - gaps_km[1] / length_km, math.ceil(length_km / _SPACING_KM) + 2
    )
    offset = sum(_wiggle_km(t, length_km, rng, amp) for rng, amp in wiggles)
    xy = np.outer(t, d) + np.outer(offset, [-d[1] / length_km, d[0] / length_km])
    return np.column_stack([lon_a + xy[:, 0] / km_per_deg_lon, lat_a + xy[:, 1] / _KM_PER_DEG_LAT])


def _cost_per_km(corridor_id: str, kind: str, a: str, b: str) -> float:
    """Return a seeded cost per km; metro band if it touches a metro (fiber: both ends)."""
    metro = a in _METROS and b in _METROS if kind == "existing_fiber" else bool({a, b} & _METROS)
    return float(round(_rng("cost", corridor_id).uniform(*_COST_PER_KM[kind][metro]), -2))


def _bridge_ids(a: str, b: str) -> list[str]:
    """Return the bridge srlg ids of the row between towns a and b."""
    return [srlg for towns, srlg in _BRIDGES.items() if set(towns) == {a, b}]


def _fiber_spans(alignments: dict[str, Alignment]) -> list[tuple[str, str, int, int, int]]:
    """Return (fiber code, trench, span number, first, last host waypoint index) of every span."""
    spans = []
    for code, trench, host, _access, stops in _FIBERS:
        idx = [alignments[host][3].index(stop) for stop in stops.split("|")]
        assert idx == sorted(idx) and host not in _GAPS_M, f"{code}: bad stops on {host}"
        spans += [(code, trench, n, i, j) for n, (i, j) in enumerate(itertools.pairwise(idx), 1)]
    return spans


def _alignment_rows(alignments: dict[str, Alignment], spans: list[tuple]) -> list[tuple]:
    """Return one row per waypoint pair of every alignment; srlg from its fibers and bridges."""
    hosts = {code: host for code, _trench, host, *_ in _FIBERS}
    rows = []
    for code, (kind, label, access, stops) in alignments.items():
        gaps_km = np.array(_GAPS_M.get(code, (0.0, 0.0))) / 1000
        for i, (a, b) in enumerate(itertools.pairwise(stops)):
            ends_km = (gaps_km[0] * (i == 0), gaps_km[1] * (i == len(stops) - 2))
            coords = _segment_lonlat(a, b, [(_rng(code, i), _WIGGLE_KM[kind])], ends_km)
            trenches = dict.fromkeys(t for f, t, _n, j, k in spans if hosts[f] == code and j <= i < k)
            srlg = ",".join([*trenches, *_bridge_ids(a, b)])
            rows.append((f"{code}-{i + 1:02d}", kind, a, b, coords, srlg, access, f"{label} {a}-{b}"))
    return rows


def _fiber_rows(alignments: dict[str, Alignment], spans: list[tuple]) -> list[tuple]:
    """Return one existing-fiber row per span: its host's geometry plus a small extra wiggle."""
    fibers = {code: (host, access) for code, _trench, host, access, _stops in _FIBERS}
    rows = []
    for code, trench, n, first, last in spans:
        host, access = fibers[code]
        kind, label, _access, stops = alignments[host]
        wiggles = [
            [(_rng(host, i), _WIGGLE_KM[kind]), (_rng(code, i), _FIBER_EXTRA_WIGGLE_KM)]
            for i in range(first, last)
        ]
        pieces = [
            _segment_lonlat(*stops[i : i + 2], w)[int(i > first) :] for i, w in enumerate(wiggles, first)
        ]
        srlg = ",".join([trench, *(x for i in range(first, last) for x in _bridge_ids(*stops[i : i + 2]))])
        a, b = stops[first], stops[last]
        name = f"{_CARRIERS[code[1:3]]} {label} {a}-{b}"
        rows.append((f"{code}-{n:02d}", "existing_fiber", a, b, np.concatenate(pieces), srlg, access, name))
    return rows


def _corridor_features() -> list[dict]:
    """Return the alignment rows, then the fiber spans, after checking the tables."""
    alignments = _alignments()
    pairs = [frozenset(p) for *_, stops in alignments.values() for p in itertools.pairwise(stops)]
    assert len(pairs) == len(set(pairs)), "two alignments share a waypoint pair"
    assert {frozenset(towns) for towns in _BRIDGES} <= set(pairs), "a bridge is on no alignment"
    spans = _fiber_spans(alignments)
    rows = _alignment_rows(alignments, spans) + _fiber_rows(alignments, spans)
    return [
        _feature(
            {"corridor_id": cid, "kind": kind, "cost_per_km": _cost_per_km(cid, kind, a, b), "srlg": srlg,
             "access": access, "name": name},
            {"type": "LineString", "coordinates": np.round(coords, _DECIMALS).tolist()},
        )
        for cid, kind, a, b, coords, srlg, access, name in rows
    ]  # fmt: skip


def _feature(props: dict, geometry: dict) -> dict:
    """Return a GeoJSON Feature."""
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _jurisdiction_features() -> list[dict]:
    """Return state then county features from simplified Census county polygons."""
    counties = gpd.read_file(_CENSUS_DIR / "cb_2016_us_county_500k.shp")
    counties = counties[counties.STATEFP.isin(_STATE_FIPS)].sort_values("GEOID")
    states = gpd.read_file(_CENSUS_DIR / "cb_2016_us_state_500k.shp").set_index("STATEFP")
    simple = shapely.coverage_simplify(counties.geometry.values, _SIMPLIFY_TOLERANCE_DEG)
    geoms = shapely.transform(simple, lambda xy: np.round(xy, _DECIMALS))
    assert shapely.is_valid(geoms).all() and shapely.coverage_is_valid(geoms)
    fips = counties.STATEFP.to_numpy()
    rows = [
        (fp, states.NAME[fp], "state", shapely.coverage_union_all(geoms[fips == fp])) for fp in _STATE_FIPS
    ]
    suffix = np.where(counties.LSAD == "25", "city", "County")  # LSAD 25: independent city
    names = counties.NAME + " " + suffix + ", " + states.STUSPS[counties.STATEFP].to_numpy()
    rows += zip(counties.GEOID, names, ["county"] * len(geoms), geoms, strict=True)
    return [
        _feature(
            {"jurisdiction_id": jid, "name": name, "level": level, "permit_cost": _PERMIT_COST.get(jid),
             "allowed": jid not in _FORBIDDEN},
            shapely.geometry.mapping(shapely.orient_polygons(geom)),
        )
        for jid, name, level, geom in rows
    ]  # fmt: skip


def _write_layer(name: str, features: list[dict]) -> None:
    """Write a FeatureCollection with one feature per line."""
    lines = [json.dumps(f, separators=(",", ":"), ensure_ascii=False) for f in features]
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"
    (_OUT_DIR / f"{name}.geojson").write_text(text, encoding="utf-8")


def main() -> None:
    """Build every layer and write it to the sample directory."""
    _OUT_DIR.mkdir(parents=True, exist_ok=True)
    _write_layer("sites", [
        _feature({"site_id": sid, "name": name, "kind": kind}, {"type": "Point", "coordinates": [lon, lat]})
        for sid, name, kind, lat, lon in _SITES
    ])  # fmt: skip
    _write_layer("corridors", _corridor_features())
    _write_layer("jurisdictions", _jurisdiction_features())
    _write_layer("exclusions", [
        _feature({"exclusion_id": eid, "name": name},
                 shapely.geometry.mapping(shapely.orient_polygons(shapely.Polygon(ring))))
        for eid, name, ring in _EXCLUSIONS
    ])  # fmt: skip
    _write_layer("areas", [
        _feature({"area_id": aid, "name": name, "group": group, "cost_multiplier": multiplier},
                 shapely.geometry.mapping(shapely.orient_polygons(shapely.Polygon(ring))))
        for aid, name, group, multiplier, ring in _AREAS
    ])  # fmt: skip


if __name__ == "__main__":
    main()
