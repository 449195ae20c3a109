#!/usr/bin/env bash
# demo.sh: the main job from a clean clone: setup, build, enroll a few people from one photo
# each (images/<name>.jpg), then name every face in other photos, strangers included.
#
# People come from LFW when the shared data folder is present ($FACEREC_DATA, default
# ../shared/data beside the repository); otherwise from the face-api demo photos, whose
# faces are cut out of samples 1-3 and looked for again in samples 1-6.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
data="${FACEREC_DATA:-$here/../shared/data}"
out="$here/build/demo"

"$here/scripts/setup.sh"
echo "== building build/facerec (a few minutes the first time, on two cores)"
cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$here/build" -j "$(nproc 2>/dev/null || echo 2)" --target facerec_cli
facerec="$here/build/facerec"

rm -rf "$out"
mkdir -p "$out/images" "$out/probes"
if [ -d "$data/lfw-deepfunneled" ]; then
  lfw="$data/lfw-deepfunneled"
  echo "== people from LFW: one photo each in $out/images"
  for p in George_W_Bush Colin_Powell Tony_Blair Donald_Rumsfeld Gerhard_Schroeder \
           Ariel_Sharon Hugo_Chavez Junichiro_Koizumi Jean_Chretien Serena_Williams; do
    cp "$lfw/$p/${p}_0001.jpg" "$out/images/$p.jpg"
    cp "$lfw/$p/${p}_0002.jpg" "$out/probes/"
  done
  # Strangers: people with a single photo in LFW, never enrolled.
  for p in Aaron_Eckhart Abba_Eban Bill_Belichick Carlos_Beltran Dalai_Lama; do
    [ -f "$lfw/$p/${p}_0001.jpg" ] && cp "$lfw/$p/${p}_0001.jpg" "$out/probes/"
  done
else
  demo="$here/models/face-api/demo"
  echo "== no shared data: people cut out of the face-api demo photos into $out/images"
  for i in 1 2 3; do "$facerec" detect --crops "$out/images" "$demo/sample$i.jpg" >/dev/null; done
  cp "$demo"/sample*.jpg "$out/probes/"
fi

# exit status 3: a photo had no face (reported in the output); the others are done
echo "== facerec enroll"
"$facerec" enroll --db "$out/facerec.db" "$out/images" || [ $? = 3 ]
echo "== facerec identify (image,name,distance,x,y,w,h of each face; unknown = not enrolled)"
"$facerec" identify --db "$out/facerec.db" "$out"/probes/* || [ $? = 3 ]
echo "== facerec info"
"$facerec" info --db "$out/facerec.db"
